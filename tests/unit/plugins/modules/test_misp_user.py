"""Unit tests for mispops.misp.misp_user."""

from __future__ import annotations

import json

from ansible_collections.mispops.misp.plugins.modules.misp_user import ARGUMENT_SPEC, UserManager
from fake_misp import FakeMisp, envelope, run_manager

BASE = {"misp_url": "https://misp.test", "misp_api_key": "K" * 40}
USERS = "/admin/users/index"
FILTER = {"OR": {"EventTag.name": ["%privacy-threat:%"]}}

USER_LIST = [
    {
        "User": {
            "id": "7",
            "email": "Analyst@bank-a.example",
            "org_id": "2",
            "role_id": "3",
            "autoalert": True,
            "contactalert": False,
            "disabled": False,
            "termsaccepted": True,
            "change_pw": "0",
            "gpgkey": "",
            "authkey": "x" * 40,
            "totp": None,
        },
        "Organisation": {"id": "2", "name": "Bank A"},
        "Role": {"id": "3", "name": "User"},
    }
]
ORGS = [{"Organisation": {"id": "2", "name": "Bank A", "uuid": "0b2e6d0c-7c9a-4f1e-8d3b-6a5f4e3d2c1b"}}]
ORGS.append({"Organisation": {"id": "4", "name": "CERT-EX", "uuid": "5f8a4c1e-2b7d-4e0f-9a61-3c2d8e7b9a10"}})
ROLES = [{"Role": {"id": str(i), "name": n}} for i, n in enumerate(["admin", "Org Admin", "User", "Publisher"], 1)]
SETTINGS = [
    {"UserSetting": {"id": "11", "user_id": "7", "setting": "publish_alert_filter", "value": FILTER}},
    {"UserSetting": {"id": "12", "user_id": "7", "setting": "homepage", "value": {"path": "/events/index"}}},
]


def fake_misp():
    fake = FakeMisp()
    fake.route("GET", USERS, USER_LIST)
    fake.route("GET", "/organisations/index/scope:all", ORGS)
    fake.route("GET", "/roles/index", ROLES)
    # one read of all user settings (rows of other users are ignored)
    other = {"UserSetting": {"id": "13", "user_id": "9", "setting": "homepage", "value": {"path": "/x"}}}
    fake.route("GET", "/user_settings/index", SETTINGS + [other])

    def add(req):
        return {"User": {"id": "8", **req.json, "password": "******", "authkey": "NEWKEY" * 6 + "abcd"}}

    def edit(req):
        return {"User": {**USER_LIST[0]["User"], **req.json}}

    fake.route("POST", "/admin/users/add", add)
    fake.route("POST", r"^/admin/users/edit/(\d+)$", edit)
    fake.route("DELETE", r"^/admin/users/delete/(\d+)$", {"saved": True})
    fake.route("POST", r"^/user_settings/setSetting/(\d+)/(\w+)$", lambda req: {"UserSetting": {"id": "20"}})
    fake.route("POST", r"^/user_settings/delete/(\d+)$", {"saved": True})
    return fake


def run(params, fake, check_mode=False):
    return run_manager(UserManager, {**BASE, **params}, fake, check_mode=check_mode, spec=ARGUMENT_SPEC)


def test_no_change_path_only_list_calls():
    fake = fake_misp()
    result = run(
        {
            "email": "analyst@bank-a.example",
            "organisation": "bank a",
            "role": "User",
            "autoalert": True,
            "change_pw": False,
            "password": "never-used-for-existing",
            "user_settings": {"publish_alert_filter": FILTER, "homepage": "/events/index"},
        },
        fake,
    )
    assert result["changed"] is False
    assert fake.calls == [("GET", USERS, None), ("GET", "/user_settings/index", None)]
    assert "authkey" not in result["user"] and "totp" not in result["user"]


def test_existing_user_password_never_sent():
    fake = fake_misp()
    result = run({"email": "analyst@bank-a.example", "password": "S3cret-passw0rd!", "disabled": True}, fake)
    assert result["changed"] is True
    assert fake.writes() == [("POST", "/admin/users/edit/7", {"disabled": True})]
    assert "S3cret-passw0rd!" not in json.dumps(result)


def test_create_with_org_role_password_and_settings():
    fake = fake_misp()
    result = run(
        {
            "email": "svc@cert.example",
            "organisation": "CERT-EX",
            "role": "Publisher",
            "autoalert": False,
            "change_pw": False,
            "termsaccepted": True,
            "password": "S3cret-passw0rd!",
            "user_settings": {"homepage": {"path": "/dashboards"}},
        },
        fake,
    )
    assert result["changed"] is True
    add = fake.writes()[0]
    assert add == (
        "POST",
        "/admin/users/add",
        {
            "email": "svc@cert.example",
            "autoalert": False,
            "termsaccepted": True,
            "change_pw": False,
            "org_id": 4,
            "role_id": 4,
            "password": "S3cret-passw0rd!",
        },
    )
    assert fake.writes()[1] == ("POST", "/user_settings/setSetting/8/homepage", {"value": {"path": "/dashboards"}})
    dumped = json.dumps(result)
    assert "S3cret-passw0rd!" not in dumped and "NEWKEY" not in dumped and "******" not in dumped
    assert result["diff"]["before"] == {"user_settings": {}}
    assert result["diff"]["after"]["org_id"] == "4"
    assert result["diff"]["after"]["user_settings"] == {"homepage": {"path": "/dashboards"}}


def test_create_check_mode():
    fake = fake_misp()
    result = run({"email": "new@x.example", "organisation": "Bank A", "user_settings": {"homepage": "/x"}}, fake, True)
    assert result["changed"] is True
    assert fake.writes() == []
    assert result["user_settings"] == {"homepage": {"path": "/x"}}


def test_update_org_role_and_filter_with_diff():
    fake = fake_misp()
    new_filter = {"AND": {"Tag.name": ["tlp:red"]}}
    result = run(
        {
            "email": "analyst@bank-a.example",
            "organisation": "CERT-EX",
            "role": "Publisher",
            "user_settings": {"publish_alert_filter": json.dumps(new_filter), "homepage": None},
        },
        fake,
    )
    assert fake.writes() == [
        ("POST", "/admin/users/edit/7", {"org_id": 4, "role_id": 4}),
        ("POST", "/user_settings/setSetting/7/publish_alert_filter", {"value": new_filter}),
        ("POST", "/user_settings/delete/12", {}),
    ]
    assert result["diff"]["before"] == {
        "org_id": "2",
        "role_id": "3",
        "user_settings": {"publish_alert_filter": FILTER, "homepage": {"path": "/events/index"}},
    }
    assert result["diff"]["after"] == {
        "org_id": "4",
        "role_id": "4",
        "user_settings": {"publish_alert_filter": new_filter, "homepage": None},
    }
    assert result["user_settings"] == {"publish_alert_filter": new_filter}


def test_update_check_mode_writes_nothing():
    fake = fake_misp()
    result = run(
        {"email": "analyst@bank-a.example", "autoalert": False, "user_settings": {"homepage": "/y"}}, fake, True
    )
    assert result["changed"] is True
    assert fake.writes() == []
    assert result["diff"]["after"]["autoalert"] is False


def test_delete_and_absent_noop():
    fake = fake_misp()
    result = run({"email": "analyst@bank-a.example", "state": "absent"}, fake)
    assert result["changed"] is True and fake.writes() == [("DELETE", "/admin/users/delete/7", None)]
    assert "authkey" not in json.dumps(result["diff"])
    fake = fake_misp()
    assert run({"email": "gone@x.example", "state": "absent"}, fake)["changed"] is False


def test_unknown_org_and_role_fail_before_writing():
    fake = fake_misp()
    result = run({"email": "n@x.example", "organisation": "Nope"}, fake)
    assert result["failed"] and "Organisation 'Nope' not found" in result["msg"]
    result = run({"email": "n@x.example", "role": "Wizard"}, fake)
    assert result["failed"] and "Role 'Wizard' not found" in result["msg"]
    assert fake.writes() == []


def test_misp_error_maps():
    fake = fake_misp()
    fake.route(
        "POST",
        "/admin/users/add",
        {**envelope("Could not add User", errors={"email": ["An account with this email already exists."]})},
        status=403,
    )
    result = run({"email": "n@x.example", "password": "pw-pw-pw-pw-pw"}, fake)
    assert result["failed"] and result["status"] == 403
    assert "already exists" in result["misp_message"]
    assert "pw-pw-pw-pw-pw" not in json.dumps(result)


# -- list mode: users ---------------------------------------------------------------------
def many_users(n=100):
    return [
        {
            "User": {
                "id": str(i),
                "email": f"user{i}@bank-a.example",
                "org_id": "2",
                "role_id": "3",
                "autoalert": True,
                "disabled": False,
                "change_pw": False,
                "authkey": "x" * 40,
            },
            "Organisation": {"id": "2", "name": "Bank A"},
            "Role": {"id": "3", "name": "User"},
        }
        for i in range(1, n + 1)
    ]


def many_fake(n=100):
    users = many_users(n)
    fake = fake_misp()
    fake.route("GET", USERS, users)
    rows = [
        {"UserSetting": {"id": str(100 + i), "user_id": str(i), "setting": "homepage", "value": {"path": "/events"}}}
        for i in range(1, n + 1)
    ]
    fake.route("GET", "/user_settings/index", rows)
    fake.route(
        "POST",
        r"^/admin/users/edit/(\d+)$",
        lambda req: {"User": {**users[int(req.match.group(1)) - 1]["User"], **req.json}},
    )
    return fake


def wanted_users(n=100, settings=True):
    items = [
        {"email": f"user{i}@bank-a.example", "organisation": "Bank A", "role": "User", "autoalert": True}
        for i in range(1, n + 1)
    ]
    if settings:
        for item in items:
            item["user_settings"] = {"homepage": "/events"}
    return items


def test_list_no_change_one_list_call_for_100():
    fake = many_fake()
    result = run({"users": wanted_users(settings=False)}, fake)
    assert result["changed"] is False
    assert fake.calls == [("GET", USERS, None)]
    assert len(result["results"]) == 100 and result["results"][6]["email"] == "user7@bank-a.example"


def test_list_no_change_with_user_settings_one_more_call():
    fake = many_fake()
    result = run({"users": wanted_users()}, fake)
    assert result["changed"] is False
    assert fake.calls == [("GET", USERS, None), ("GET", "/user_settings/index", None)]
    assert result["api_calls"] == 2
    assert "authkey" not in json.dumps(result)


def mixed_users():
    items = wanted_users()
    items[2]["disabled"] = True  # update user3
    items[3]["user_settings"] = {"homepage": "/dashboards"}  # setting of user4
    items[4] = {"email": "user5@bank-a.example", "state": "absent"}  # delete user5
    items.append(
        {"email": "new1@cert.example", "organisation": "CERT-EX", "role": "Publisher", "password": "S3cret-pw-1234"}
    )
    items.append({"email": "new2@cert.example", "organisation": "CERT-EX", "role": "Org Admin", "password": "Pw-2-xyz"})
    return items


def test_list_mixed_writes_only_differences_and_looks_up_once():
    fake = many_fake()
    result = run({"users": mixed_users()}, fake)
    assert result["changed"] is True
    reads = [c[1] for c in fake.calls if c[0] == "GET"]
    assert reads == [USERS, "/user_settings/index", "/organisations/index/scope:all", "/roles/index"]
    assert [(w[0], w[1]) for w in fake.writes()] == [
        ("POST", "/admin/users/edit/3"),
        ("POST", "/user_settings/setSetting/4/homepage"),
        ("DELETE", "/admin/users/delete/5"),
        ("POST", "/admin/users/add"),
        ("POST", "/admin/users/add"),
    ]
    assert set(result["diff"]["after"]) == {
        "user3@bank-a.example",
        "user4@bank-a.example",
        "user5@bank-a.example",
        "new1@cert.example",
        "new2@cert.example",
    }
    assert result["diff"]["after"]["user3@bank-a.example"] == {"disabled": True}
    assert result["diff"]["after"]["user4@bank-a.example"] == {"user_settings": {"homepage": {"path": "/dashboards"}}}
    dumped = json.dumps(result)
    assert "S3cret-pw-1234" not in dumped and "Pw-2-xyz" not in dumped and "NEWKEY" not in dumped


def test_list_check_mode_writes_nothing():
    fake = many_fake()
    result = run({"users": mixed_users()}, fake, check_mode=True)
    assert result["changed"] is True and fake.writes() == []
    assert len(result["diff"]["after"]) == 5
    assert "S3cret-pw-1234" not in json.dumps(result)


def test_list_duplicate_email_refused():
    fake = many_fake()
    result = run({"users": [{"email": "A@x.example"}, {"email": "a@x.example"}]}, fake)
    assert result["failed"] and "list each object once" in result["msg"] and fake.calls == []
