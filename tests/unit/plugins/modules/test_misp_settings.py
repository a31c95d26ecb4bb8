"""Unit tests for mispops.misp.misp_settings."""

from __future__ import annotations

import json

import pytest
from ansible_collections.mispops.misp.plugins.module_utils import misp_config
from ansible_collections.mispops.misp.plugins.modules import misp_settings
from ansible_collections.mispops.misp.plugins.modules.misp_settings import ARGUMENT_SPEC, SettingsManager
from fake_misp import FakeMisp, FakeModule, envelope, run_manager

BASE = {"misp_url": "https://misp.test", "misp_api_key": "K" * 40}
CONFIG_PATH = "/var/www/MISP/app/Config/config.php"

CONFIG = {
    "debug": 0,
    "MISP": {"baseurl": "https://misp.test", "email": "misp@example.org", "disable_emailing": False},
    "GnuPG": {"sign": True},
    "SimpleBackgroundJobs": {"enabled": True, "redis_password": "s3cret-redis"},
}

DEFS = {
    "MISP.email": {"name": "MISP.email", "type": "string", "value": "misp@example.org", "test": "testForEmpty"},
    "MISP.disable_emailing": {"name": "MISP.disable_emailing", "type": "boolean", "test": "testDisableEmail"},
    "MISP.baseurl": {"name": "MISP.baseurl", "type": "string", "test": "testBaseURL", "null": True},
    "GnuPG.sign": {"name": "GnuPG.sign", "type": "boolean", "value": True, "test": "testBool"},
    "MISP.welcome_text_top": {"name": "MISP.welcome_text_top", "type": "string", "test": "testForEmpty"},
    "Security.disable_browser_cache": {
        "name": "Security.disable_browser_cache",
        "type": "boolean",
        "test": "testBoolFalse",
    },
    "MISP.python_bin": {"name": "MISP.python_bin", "type": "string", "cli_only": True},
    "MISP.default_event_distribution": {"name": "MISP.default_event_distribution", "type": "numeric"},
    "MISP.welcome_logo": {
        "name": "MISP.welcome_logo",
        "type": "string",
        "value": "",
        "error": 1,
        "errorMessage": "Value not set.",
    },
}


def php_reads(config):
    return lambda argv: (0, json.dumps(config), "")


def routes(fake, defs=DEFS):
    def get_setting(req):
        name = req.match.group(1)
        if name in ("SimpleBackgroundJobs.redis_password",):
            return 403, envelope("This setting is redacted.")
        if name not in defs:
            return 404, envelope(f"Setting {name} is invalid.")
        return defs[name]

    fake.route("GET", r"^/servers/getSetting/(.+)$", get_setting)
    fake.route(
        "POST", r"^/servers/serverSettingsEdit/(.+)$", {"saved": True, "success": True, "message": "Field updated"}
    )
    return fake


def run(settings, fake, check_mode=False, config=None, **params):
    params = {**BASE, "settings": settings, **params}
    if config is not None:
        params["config_path"] = CONFIG_PATH
    module = FakeModule(params, check_mode=check_mode, spec=ARGUMENT_SPEC, run_command=php_reads(config or {}))
    result = run_manager(SettingsManager, params, fake, module=module)
    return result, module


def test_no_change_from_config_php_makes_no_api_call():
    fake = routes(FakeMisp())
    result, module = run(
        {"MISP.email": "misp@example.org", "GnuPG.sign": True, "MISP.disable_emailing": False, "debug": 0},
        fake,
        config=CONFIG,
    )
    assert result["changed"] is False
    assert "diff" not in result
    assert fake.calls == []
    assert module.commands == [["/usr/bin/php", "-r", misp_config.READ_CONFIG_PHP, CONFIG_PATH]]
    assert result["source"] == "config.php"


def test_unset_setting_is_written_even_if_default_looks_equal():
    # getSetting would show GnuPG.sign=true (the default); config.php lacks it -> must write
    fake = routes(FakeMisp())
    config = {"MISP": {"email": "misp@example.org"}}
    result, _ = run({"GnuPG.sign": True}, fake, config=config)
    assert result["changed"] is True
    assert result["diff"] == {"before": {"GnuPG.sign": None}, "after": {"GnuPG.sign": True}}
    assert fake.writes() == [("POST", "/servers/serverSettingsEdit/GnuPG.sign", {"value": True, "force": False})]


def test_check_mode_reports_but_does_not_write():
    fake = routes(FakeMisp())
    result, _ = run({"MISP.email": "new@example.org"}, fake, check_mode=True, config=CONFIG)
    assert result["changed"] is True
    assert result["changed_settings"] == ["MISP.email"]
    assert result["diff"] == {"before": {"MISP.email": "misp@example.org"}, "after": {"MISP.email": "new@example.org"}}
    assert fake.writes() == []


def test_only_differing_settings_written_with_json_types():
    fake = routes(FakeMisp())
    result, _ = run(
        {"MISP.email": "misp@example.org", "GnuPG.sign": "false", "MISP.default_event_distribution": "1"},
        fake,
        config=CONFIG,
    )
    assert result["changed_settings"] == ["GnuPG.sign", "MISP.default_event_distribution"]
    assert fake.writes() == [
        ("POST", "/servers/serverSettingsEdit/GnuPG.sign", {"value": False, "force": False}),
        ("POST", "/servers/serverSettingsEdit/MISP.default_event_distribution", {"value": 1, "force": False}),
    ]


def test_force_only_where_misp_requires_it():
    fake = routes(FakeMisp())
    config = {"MISP": {"disable_emailing": False, "baseurl": "http://old"}, "GnuPG": {"sign": True}}
    result, _ = run(
        {
            "MISP.disable_emailing": True,  # testDisableEmail rejects true
            "MISP.baseurl": "https://misp.example.org",  # REST test wants the request host
            "GnuPG.sign": False,  # a plain bool: no force
            "Security.disable_browser_cache": True,  # testBoolFalse rejects true
            "MISP.welcome_text_top": "",  # testForEmpty rejects ""
        },
        fake,
        config=config,
    )
    forced = {path.rsplit("/", 1)[1]: body["force"] for _m, path, body in fake.writes()}
    assert forced == {
        "MISP.disable_emailing": True,
        "MISP.baseurl": True,
        "GnuPG.sign": False,
        "Security.disable_browser_cache": True,
        "MISP.welcome_text_top": True,
    }
    assert sorted(result["forced_settings"]) == sorted(k for k, v in forced.items() if v)


def test_user_force_list():
    fake = routes(FakeMisp())
    run({"MISP.email": "x@example.org"}, fake, config=CONFIG, force=["MISP.email"])
    assert fake.writes()[0][2] == {"value": "x@example.org", "force": True}


def test_api_source_uses_value_not_set_marker():
    fake = routes(FakeMisp())
    result, _ = run({"MISP.email": "misp@example.org", "MISP.welcome_logo": ""}, fake)
    # MISP.email: value equal -> unchanged; welcome_logo: "Value not set." -> written
    assert result["source"] == "api"
    assert result["changed_settings"] == ["MISP.welcome_logo"]
    assert fake.writes() == [("POST", "/servers/serverSettingsEdit/MISP.welcome_logo", {"value": "", "force": True})]


def test_api_source_no_change_path_only_reads():
    fake = routes(FakeMisp())
    result, _ = run({"MISP.email": "misp@example.org", "GnuPG.sign": True}, fake)
    assert result["changed"] is False
    assert [c[0] for c in fake.calls] == ["GET", "GET"]


def test_secret_settings_masked_and_registered_no_log():
    fake = routes(FakeMisp())
    result, module = run({"SimpleBackgroundJobs.redis_password": "n3w-secret"}, fake, config=CONFIG)
    assert result["changed"] is True
    assert result["settings"] == {"SimpleBackgroundJobs.redis_password": "********"}
    assert result["diff"] == {
        "before": {"SimpleBackgroundJobs.redis_password": "********"},
        "after": {"SimpleBackgroundJobs.redis_password": "********"},
    }
    assert "n3w-secret" not in json.dumps(result) and "s3cret-redis" not in json.dumps(result)
    assert "n3w-secret" in module.no_log_values
    assert fake.writes() == [
        (
            "POST",
            "/servers/serverSettingsEdit/SimpleBackgroundJobs.redis_password",
            {"value": "n3w-secret", "force": False},
        )
    ]


def test_secret_unchanged_is_idempotent_with_config_php():
    fake = routes(FakeMisp())
    result, _ = run({"SimpleBackgroundJobs.redis_password": "s3cret-redis"}, fake, config=CONFIG)
    assert result["changed"] is False and fake.calls == []


def test_redacted_setting_via_api_fails_clearly():
    fake = routes(FakeMisp())
    result, _ = run({"SimpleBackgroundJobs.redis_password": "x"}, fake)
    assert result["failed"] is True
    assert "config_path" in result["msg"]


def test_cli_only_fails_before_any_write():
    fake = routes(FakeMisp())
    result, _ = run({"MISP.email": "changed@example.org", "MISP.python_bin": "/opt/venv/bin/python"}, fake, config={})
    assert result["failed"] is True and "cli_only" in result["msg"]
    assert fake.writes() == []


def test_unknown_setting_and_bad_types():
    fake = routes(FakeMisp())
    result, _ = run({"MISP.nope": "x"}, fake, config={})
    assert result["failed"] and "Unknown MISP setting MISP.nope" in result["msg"]
    result, _ = run({"GnuPG.sign": "maybe"}, fake, config={})
    assert result["failed"] and "boolean" in result["msg"]
    result, _ = run({"MISP.email": None}, fake, config={})
    assert result["failed"] and "null" in result["msg"]


def test_misp_rejection_maps_to_failure_with_status():
    fake = routes(FakeMisp())
    fake.route(
        "POST",
        "/servers/serverSettingsEdit/MISP.email",
        envelope("Setting change rejected.", errors="Invalid e-mail address."),
        status=403,
    )
    result, _ = run({"MISP.email": "bad"}, fake, config=CONFIG)
    assert result["failed"] is True
    assert result["status"] == 403
    assert result["misp_message"] == "Setting change rejected.: Invalid e-mail address."
    assert result["msg"].startswith("POST /servers/serverSettingsEdit/MISP.email: HTTP 403")


def test_php_failure_and_system_setting_db():
    fake = routes(FakeMisp())
    params = {**BASE, "settings": {"MISP.email": "misp@example.org"}, "config_path": CONFIG_PATH}
    module = FakeModule(params, spec=ARGUMENT_SPEC, run_command=lambda argv: (255, "", "PHP Fatal error"))
    result = run_manager(SettingsManager, params, fake, module=module)
    assert result["failed"] and "PHP Fatal error" in result["msg"]

    result, module = run({"MISP.email": "misp@example.org"}, fake, config={"MISP": {"system_setting_db": True}})
    assert result["source"] == "api" and module.warnings


@pytest.mark.parametrize(
    ("current", "desired", "equal"),
    [
        (True, True, True),
        (1, True, True),
        ("1", True, True),
        (False, "false", True),
        (True, "false", False),
        ("5", 5, True),
        (5, "5", True),
        (None, "", False),
        ("", "", True),
        ("a", "b", False),
    ],
)
def test_setting_equal(current, desired, equal):
    assert misp_settings.setting_equal(current, desired) is equal
