"""Unit tests for mispops.misp.misp_info."""

from __future__ import annotations

import json

from ansible_collections.mispops.misp.plugins.modules.misp_info import ARGUMENT_SPEC, InfoManager
from fake_misp import FakeMisp, envelope, run_manager

BASE = {"misp_url": "https://misp.test", "misp_api_key": "K" * 40}

VERSION = {"version": "2.5.1", "pymisp_recommended_version": "2.5.1", "perm_sync": False, "uuid": "-"}
ME = {
    "User": {"id": "1", "email": "admin@admin.test", "org_id": "1", "disabled": False, "authkey": "x" * 40},
    "Role": {"id": "1", "name": "admin", "perm_site_admin": True, "perm_sync": False},
    "Organisation": {"id": "1", "name": "ADMIN"},
}
WORKERS = {
    "cache": {
        "ok": True,
        "workers": [{"pid": 1, "user": "www-data", "alive": True, "correct_user": True, "ok": True}],
        "jobCount": 0,
    },
    "default": {
        "ok": True,
        "workers": [{"pid": 2, "alive": True, "correct_user": True}, {"pid": 3, "alive": False}],
        "jobCount": 2,
    },
    "email": {"ok": False, "jobCount": 7},
    "proc_accessible": True,
    "controls": True,
    "supervisord_status": True,
}
UPDATES = {
    "db_version": "126",
    "complete_update_remaining": "0",
    "update_locked": False,
    "update_fail_number_reached": False,
    "current": "",
}
SCHEMA = {
    "actual_db_version": "126",
    "expected_db_version": "126",
    "diagnostic": {"users": [{"is_critical": True, "description": "x"}], "events": [{"is_critical": False}]},
    "update_locked": False,
    "error": "",
}
DIAG = {
    "version": {"current": "v2.5.1", "upToDate": "same"},
    "gpgStatus": "OK",
    "proxyStatus": "not configured (so not tested)",
    "backgroundJobsStatus": "OK",
    "writeableDirs": {"/var/www/MISP/app/tmp/": {"error": 0}, "/var/www/MISP/app/files/": {"error": 2}},
    "writeableFiles": {},
    "readableFiles": {},
    "finalSettings": [
        {"setting": "MISP.welcome_logo", "level": 2, "error": 1, "errorMessage": "Value not set.", "value": ""},
        {"setting": "Security.salt", "level": 0, "error": 1, "errorMessage": "too short", "value": "*****"},
        {"setting": "MISP.header", "level": 3, "error": 1, "errorMessage": "deprecated"},
        {"setting": "MISP.email", "level": 0, "value": "a@b.c"},
    ],
    "workers": WORKERS,
}


def fake_misp():
    fake = FakeMisp()
    fake.route("GET", "/servers/getVersion", VERSION)
    fake.route("GET", "/users/view/me", ME)
    fake.route("GET", "/servers/getWorkers", WORKERS)
    fake.route("GET", "/servers/updateProgress", UPDATES)
    fake.route("GET", "/servers/dbSchemaDiagnostic", SCHEMA)
    fake.route("GET", "/servers/serverSettings", DIAG)
    return fake


def run(params, fake, check_mode=False):
    return run_manager(InfoManager, {**BASE, **params}, fake, check_mode=check_mode, spec=ARGUMENT_SPEC)


def test_default_parts_never_changed_and_only_gets():
    for check_mode in (False, True):
        fake = fake_misp()
        result = run({}, fake, check_mode=check_mode)
        assert result["changed"] is False
        assert [c[1] for c in fake.calls] == [
            "/servers/getVersion",
            "/users/view/me",
            "/servers/getWorkers",
            "/servers/updateProgress",
        ]
        assert fake.writes() == []
    assert result["version"]["version"] == "2.5.1"
    assert result["user"] == {
        "id": "1",
        "email": "admin@admin.test",
        "org_id": "1",
        "organisation": "ADMIN",
        "role": "admin",
        "site_admin": True,
        "sync": False,
        "disabled": False,
    }
    assert "x" * 40 not in json.dumps(result)
    assert result["updates"]["complete_update_remaining"] == 0


def test_workers_summary():
    fake = fake_misp()
    workers = run({"gather": ["workers"]}, fake)["workers"]
    assert workers["enabled"] is True and workers["all_ok"] is False
    assert workers["failed_queues"] == ["email"]
    assert workers["queues"]["default"] == {"ok": True, "alive": 1, "dead": 1, "job_count": 2}
    assert workers["supervisord_status"] is True


def test_workers_disabled():
    fake = fake_misp()
    fake.route("GET", "/servers/getWorkers", ["Background jobs not enabled"])
    workers = run({"gather": ["workers"]}, fake)["workers"]
    assert workers["enabled"] is False and workers["all_ok"] is False


def test_db_schema_and_diagnostics_summaries():
    fake = fake_misp()
    result = run({"gather": ["db_schema", "diagnostics"]}, fake)
    assert result["db_schema"] == {
        "actual_db_version": "126",
        "expected_db_version": "126",
        "issues": 2,
        "critical_issues": 1,
        "update_locked": False,
        "error": None,
    }
    diag = result["diagnostics"]
    assert diag["setting_errors"] == [
        {"setting": "MISP.welcome_logo", "level": 2, "message": "Value not set."},
        {"setting": "Security.salt", "level": 0, "message": "too short"},
    ]
    assert diag["critical_setting_errors"] == 1
    assert diag["unwritable_dirs"] == ["/var/www/MISP/app/files/"]
    assert diag["workers"]["failed_queues"] == ["email"]
    assert "a@b.c" not in json.dumps(result)


def test_errors_fail_or_are_collected():
    fake = fake_misp()
    fake.route(
        "GET", "/servers/getWorkers", envelope("You do not have permission to use this functionality."), status=403
    )
    result = run({"gather": ["version", "workers"]}, fake)
    assert result["failed"] is True and result["status"] == 403
    result = run({"gather": ["version", "workers"], "fail_on_error": False}, fake)
    assert result["changed"] is False and "version" in result
    assert "HTTP 403" in result["errors"]["workers"]
