"""Settings whose names look secret but whose values are numbers or booleans are shown as they are.

Found on the real MISP (`misp` Molecule scenario): Security.password_policy_length 14 -> 16 was
shown as ******** -> ******** and "16" was registered as a no_log value, masking every 16 in the
output."""

from __future__ import annotations

import json

from ansible_collections.mispops.misp.plugins.module_utils.misp_config import is_secret
from ansible_collections.mispops.misp.plugins.modules import misp_cli_settings
from ansible_collections.mispops.misp.plugins.modules.misp_settings import ARGUMENT_SPEC, SettingsManager
from fake_misp import FakeMisp, FakeModule, run_manager

CONFIG_PATH = "/var/www/MISP/app/Config/config.php"
CONFIG = {"Security": {"password_policy_length": 14, "advanced_authkeys": True, "salt": "s4lt"}}


def test_is_secret_by_value():
    assert is_secret("Security.password_policy_length", 16) is False
    assert is_secret("Security.advanced_authkeys", True) is False
    assert is_secret("Security.salt", "abc") is True
    assert is_secret("SimpleBackgroundJobs.redis_password", "x") is True
    assert is_secret("SimpleBackgroundJobs.redis_password") is True


def test_api_settings_numeric_password_policy_is_shown_and_not_no_log():
    params = {
        "misp_url": "https://misp.test",
        "misp_api_key": "K" * 40,
        "settings": {"Security.password_policy_length": 16, "Security.salt": "n3w"},
        "config_path": CONFIG_PATH,
    }
    fake = FakeMisp()
    fake.route(
        "GET",
        "/servers/getSetting/Security.password_policy_length",
        {"name": "Security.password_policy_length", "type": "numeric", "value": 14},
    )
    fake.route("GET", "/servers/getSetting/Security.salt", {"name": "Security.salt", "type": "string"})
    fake.route("POST", r"^/servers/serverSettingsEdit/(.+)$", {"saved": True, "success": True})
    module = FakeModule(params, spec=ARGUMENT_SPEC, run_command=lambda argv: (0, json.dumps(CONFIG), ""))
    result = run_manager(SettingsManager, params, fake, module=module)
    assert result["diff"]["before"] == {"Security.password_policy_length": 14, "Security.salt": "********"}
    assert result["diff"]["after"] == {"Security.password_policy_length": 16, "Security.salt": "********"}
    assert "16" not in module.no_log_values
    assert "n3w" in module.no_log_values


def test_cli_settings_numeric_password_policy_is_shown(monkeypatch):
    params = {
        "settings": {"Security.password_policy_length": 15},
        "force": [],
        "misp_root": "/var/www/MISP",
        "web_user": "www-data",
        "php_binary": "php",
    }
    module = FakeModule(params, check_mode=True, run_command=lambda argv: (0, json.dumps(CONFIG), ""))
    monkeypatch.setattr(misp_cli_settings, "AnsibleModule", lambda **kwargs: module)
    try:
        misp_cli_settings.main()
    except Exception as e:  # FakeModule ends with an exception carrying the result
        result = getattr(e, "result", None)
    assert result["diff"] == {
        "before": {"Security.password_policy_length": 14},
        "after": {"Security.password_policy_length": 15},
    }
    assert "15" not in module.no_log_values
