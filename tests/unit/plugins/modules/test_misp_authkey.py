"""Unit tests for mispops.misp.misp_authkey."""

from __future__ import annotations

import json
import time

from ansible_collections.mispops.misp.plugins.modules import misp_authkey
from ansible_collections.mispops.misp.plugins.modules.misp_authkey import ARGUMENT_SPEC, AuthKeyManager
from fake_misp import FakeMisp, envelope, run_manager

BASE = {"misp_url": "https://misp.test", "misp_api_key": "K" * 40}
COMMENT = "managed-by-ansible:sync"
RAW = "abcd" + "x" * 32 + "wxyz"
NOW = int(time.time())


def key(kid, user_id="5", email="sync@b.example", comment=COMMENT, expiration=0, **extra):
    return {
        "AuthKey": {
            "id": str(kid),
            "user_id": user_id,
            "comment": comment,
            "authkey_start": "abcd",
            "authkey_end": "wxyz",
            "expiration": expiration,
            "allowed_ips": extra.pop("allowed_ips", None),
            "read_only": extra.pop("read_only", False),
            **extra,
        },
        "User": {"id": user_id, "email": email},
    }


def fake_misp(keys):
    fake = FakeMisp()
    fake.route("GET", "/auth_keys/index", keys)
    fake.route("GET", "/admin/users/index", [{"User": {"id": "5", "email": "Sync@B.example"}}])
    fake.route(
        "POST",
        r"^/auth_keys/add/(\d+)$",
        lambda req: {"AuthKey": {"id": "30", "user_id": req.match.group(1), **req.json, "authkey_raw": RAW}},
    )
    fake.route("POST", r"^/auth_keys/edit/(\d+)$", lambda req: {"AuthKey": {"id": req.match.group(1), **req.json}})
    fake.route("DELETE", r"^/auth_keys/delete/(\d+)$", {"saved": True})
    return fake


def run(params, fake, check_mode=False):
    return run_manager(AuthKeyManager, {**BASE, **params}, fake, check_mode=check_mode, spec=ARGUMENT_SPEC)


def test_create_returns_key_once():
    fake = fake_misp([key(3, comment="other")])
    result = run({"user": "sync@b.example", "comment": COMMENT, "allowed_ips": ["192.0.2.10/32"]}, fake)
    assert result["changed"] is True and result["created"] is True
    assert result["authkey"] == RAW
    assert fake.writes() == [("POST", "/auth_keys/add/5", {"comment": COMMENT, "allowed_ips": ["192.0.2.10/32"]})]
    assert RAW not in json.dumps(result["diff"]) and RAW not in json.dumps(result["key"])
    assert "authkey_raw" not in result["key"]


def test_rerun_finds_key_by_comment_and_returns_no_key():
    fake = fake_misp([key(3, allowed_ips=["192.0.2.10/32"])])
    result = run({"user": "SYNC@b.example", "comment": COMMENT, "allowed_ips": ["192.0.2.10/32"]}, fake)
    assert result["changed"] is False and result["created"] is False
    assert "authkey" not in result
    assert fake.calls == [("GET", "/auth_keys/index", None)]


def test_check_mode_create():
    fake = fake_misp([])
    result = run({"user": "sync@b.example", "comment": COMMENT, "read_only": True}, fake, check_mode=True)
    assert result["changed"] is True and result["created"] is True
    assert "authkey" not in result
    assert fake.writes() == []
    assert result["key"] == {"user_id": "5", "comment": COMMENT, "read_only": True}


def test_user_by_id_skips_user_lookup():
    fake = fake_misp([])
    run({"user": "9", "comment": COMMENT}, fake)
    assert fake.calls == [("GET", "/auth_keys/index", None), ("POST", "/auth_keys/add/9", {"comment": COMMENT})]


def test_update_allowed_ips_and_expiration_with_diff():
    fake = fake_misp([key(3, allowed_ips=["10.0.0.0/8"])])
    result = run(
        {"user": "sync@b.example", "comment": COMMENT, "allowed_ips": ["192.0.2.0/24"], "expiration": "2030-01-31"},
        fake,
    )
    assert result["changed"] is True and result["created"] is False and "authkey" not in result
    assert fake.writes() == [
        ("POST", "/auth_keys/edit/3", {"allowed_ips": ["192.0.2.0/24"], "expiration": "2030-01-31"})
    ]
    assert result["diff"] == {
        "before": {"allowed_ips": ["10.0.0.0/8"], "expiration": 0},
        "after": {"allowed_ips": ["192.0.2.0/24"], "expiration": "2030-01-31"},
    }


def test_update_check_mode():
    fake = fake_misp([key(3)])
    result = run({"user": "sync@b.example", "comment": COMMENT, "read_only": True}, fake, check_mode=True)
    assert result["changed"] is True and fake.writes() == []


def test_expiration_within_timezone_slack_is_equal():
    exp = misp_authkey.expiration_ts("2030-01-31") - 3600  # strtotime in UTC+1
    fake = fake_misp([key(3, expiration=exp)])
    result = run({"user": "sync@b.example", "comment": COMMENT, "expiration": "2030-01-31"}, fake)
    assert result["changed"] is False
    fake = fake_misp([key(3, expiration=0)])
    assert run({"user": "sync@b.example", "comment": COMMENT, "expiration": "never"}, fake)["changed"] is False


def test_expired_key_is_replaced():
    fake = fake_misp([key(3, expiration=NOW - 10)])
    result = run({"user": "sync@b.example", "comment": COMMENT}, fake)
    assert result["created"] is True and result["authkey"] == RAW
    assert fake.writes() == [
        ("POST", "/auth_keys/add/5", {"comment": COMMENT}),
        ("DELETE", "/auth_keys/delete/3", None),
    ]
    fake = fake_misp([key(3, expiration=NOW - 10)])
    result = run({"user": "sync@b.example", "comment": COMMENT, "renew_expired": False}, fake)
    assert result["changed"] is False and result["expired"] is True


def test_absent_deletes_all_matching():
    fake = fake_misp([key(3), key(4), key(5, comment="keep")])
    result = run({"user": "sync@b.example", "comment": COMMENT, "state": "absent"}, fake)
    assert result["changed"] is True
    assert fake.writes() == [("DELETE", "/auth_keys/delete/3", None), ("DELETE", "/auth_keys/delete/4", None)]
    fake = fake_misp([])
    assert run({"user": "sync@b.example", "comment": COMMENT, "state": "absent"}, fake)["changed"] is False


def test_errors():
    fake = fake_misp([])
    fake.route("GET", "/admin/users/index", [])
    assert "not found" in run({"user": "ghost@x.example", "comment": COMMENT}, fake)["msg"]
    fake = fake_misp([])
    assert "YYYY-MM-DD" in run({"user": "5", "comment": COMMENT, "expiration": "tomorrow"}, fake)["msg"]
    fake = fake_misp([])
    fake.route(
        "POST",
        "/auth_keys/add/5",
        envelope(
            "Could not add AuthKey", errors={"allowed_ips": ["Setting an ip allowlist is mandatory on this instance."]}
        ),
        status=403,
    )
    result = run({"user": "5", "comment": COMMENT}, fake)
    assert result["failed"] and result["status"] == 403 and "allowlist is mandatory" in result["misp_message"]
