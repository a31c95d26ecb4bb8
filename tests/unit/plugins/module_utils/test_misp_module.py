"""Unit tests for plugins/module_utils/misp_module.py and a real AnsibleModule run of main()."""

from __future__ import annotations

import json

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.mispops.misp.plugins.module_utils import misp_client
from ansible_collections.mispops.misp.plugins.module_utils.misp_module import (
    Lookup,
    MispManager,
    MispModuleError,
    changed_keys,
    diff_of,
    find_one,
    list_argument_spec,
    list_mode_rules,
    normalise,
    same,
    to_bool,
    unwrap,
    unwrap_list,
)
from ansible_collections.mispops.misp.plugins.modules import misp_info, misp_organisation, misp_user
from fake_misp import FakeMisp, FakeModule, envelope, run_manager


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("1", True), ("true", True), (1, True), ("0", False), ("False", False), (0, False), (None, None)],
)
def test_to_bool(value, expected):
    assert to_bool(value) is expected


def test_normalise_and_same():
    assert normalise("5", 5) == 5
    assert normalise(5, "5") == "5"
    assert normalise('{"a": 1}', {"a": 1}) == {"a": 1}
    assert same("1", True) and same(0, False) and not same("1", False)
    assert same({"OR": {"Tag.name": ["x"]}}, {"OR": {"Tag.name": ["x"]}})
    assert not same({"OR": {"Tag.name": ["x"]}}, {"OR": {"Tag.name": ["y"]}})
    assert not same({"a": 1, "b": 2}, {"a": 1})
    assert same(None, "") and not same(None, "x")
    assert same("anything", None)  # None = not managed
    assert same(["a", "b"], ["a", "b"]) and not same(["a"], ["a", "b"])


def test_changed_keys_skips_none_and_normalises():
    current = {"local": "1", "name": "A", "org_id": "3", "sector": ""}
    desired = {"local": True, "name": "B", "org_id": 3, "sector": None, "type": "CSIRT"}
    assert changed_keys(current, desired) == {"name": "B", "type": "CSIRT"}
    assert changed_keys(None, {"a": 1}) == {"a": 1}


def test_diff_of_only_keys():
    assert diff_of({"a": 1, "b": 2}, {"a": 3, "b": 2}, ["a"]) == {"before": {"a": 1}, "after": {"a": 3}}
    assert diff_of({}, {"a": 3}, ["a"]) == {"before": {}, "after": {"a": 3}}


def test_unwrap_helpers_and_find_one():
    items = [{"Role": {"id": "1", "name": "admin"}}, {"Role": {"id": "3", "name": "User"}}]
    roles = unwrap_list(items, "Role")
    assert roles == [{"id": "1", "name": "admin"}, {"id": "3", "name": "User"}]
    assert unwrap_list({"response": items}, "Role") == roles
    assert unwrap_list({"Role": {"id": "1"}}, "Role") == [{"id": "1"}]
    assert unwrap_list(None, "Role") == [] and unwrap_list({"x": 1}, "Role") == []
    assert unwrap({"Role": {"id": "1"}, "x": 1}, "Role") == {"id": "1"}
    assert find_one(roles, 3)["name"] == "User"
    assert find_one(roles, "user")["id"] == "3"
    assert find_one(roles, "ADMIN", keys=("name",))["id"] == "1"
    assert find_one(roles, "nope") is None and find_one(roles, None) is None


def test_lookup_caches_one_call_per_type():
    fake = FakeMisp()
    fake.route(
        "GET", "/organisations/index/scope:all", [{"Organisation": {"id": "2", "name": "Bank A", "uuid": "u-1"}}]
    )
    fake.route("GET", "/roles/index", [{"Role": {"id": "5", "name": "Sync user"}}])
    lookup = Lookup(fake.client())
    assert lookup.organisation("bank a")["id"] == "2"
    assert lookup.organisation("U-1")["id"] == "2"
    assert lookup.role("Sync user")["id"] == "5"
    assert lookup.organisation("nope", required=False) is None
    with pytest.raises(MispModuleError, match="Role 'x' not found"):
        lookup.role("x")
    assert len(fake.calls) == 2
    lookup.forget("orgs")
    lookup.organisation("2")
    assert len(fake.calls) == 3


class Thing(MispManager):
    def run(self):
        changed, diff, obj = self.ensure(
            self.params["current"],
            self.params["desired"],
            state=self.params["state"],
            create=lambda f: self.client.post("/t/add", f),
            update=lambda c, ch: self.client.post("/t/edit", ch),
            delete=lambda c: self.client.post("/t/delete"),
            secret_keys=("password",),
        )
        return dict(changed=changed, diff=diff, thing=obj)


@pytest.mark.parametrize("check_mode", [False, True])
def test_ensure_paths(check_mode):
    fake = FakeMisp()
    for path in ("/t/add", "/t/edit", "/t/delete"):
        fake.route("POST", path, {})

    def go(current, desired, state="present"):
        params = {"current": current, "desired": desired, "state": state}
        return run_manager(Thing, params, fake, check_mode=check_mode)

    created = go(None, {"name": "x", "password": "pw", "other": None})
    assert created["changed"] and created["diff"] == {"before": {}, "after": {"name": "x"}}
    assert created["thing"] == {"name": "x"}
    same_ = go({"name": "x", "password": "old"}, {"name": "x"})
    assert same_["changed"] is False and same_["thing"] == {"name": "x"}
    updated = go({"name": "x", "n": "1"}, {"name": "y", "n": 1, "password": "pw"})
    assert updated["diff"] == {"before": {"name": "x"}, "after": {"name": "y"}}
    assert "pw" not in json.dumps(updated)
    deleted = go({"name": "x"}, {}, state="absent")
    assert deleted["changed"] and deleted["thing"] is None
    assert go(None, {}, state="absent")["changed"] is False
    expected_writes = [] if check_mode else ["/t/add", "/t/edit", "/t/delete"]
    assert [c[1] for c in fake.writes()] == expected_writes
    if not check_mode:
        assert fake.writes()[0][2] == {"name": "x", "password": "pw"}  # secrets are sent, only hidden


def test_execute_maps_module_errors():
    class Bad(MispManager):
        def run(self):
            self.fail("nope", hint="x")

    result = run_manager(Bad, {}, FakeMisp())
    assert result == {"msg": "nope", "hint": "x", "failed": True}


def test_fake_module_fills_spec_defaults():
    spec = {"a": {"type": "str", "default": "x"}, "b": {"type": "list", "options": {"c": {"default": 1}}}}
    module = FakeModule({"b": [{}]}, spec=spec)
    assert module.params == {"a": "x", "b": [{"c": 1}]}


# --------------------------------------------------------------------------------------
# main() through a real AnsibleModule (argument spec, env fallback, exit/fail JSON)
# --------------------------------------------------------------------------------------
def run_main(main, args, fake, monkeypatch, capsys, env=None):
    monkeypatch.setattr(misp_client, "default_transport", fake)
    for k, v in (env or {}).items():
        monkeypatch.setenv(k, v)
    with patch_module_args(args), pytest.raises(SystemExit) as exc:
        main()
    out = json.loads(capsys.readouterr().out)
    return exc.value.code, out


def test_main_runs_with_env_fallback_and_hides_key(monkeypatch, capsys):
    fake = FakeMisp()
    fake.route("GET", "/servers/getVersion", {"version": "2.5.1"})
    code, out = run_main(
        misp_info.main,
        {"gather": ["version"]},
        fake,
        monkeypatch,
        capsys,
        env={"MISP_URL": "https://misp.test", "MISP_API_KEY": "S" * 40},
    )
    assert code == 0 and out["changed"] is False and out["version"] == {"version": "2.5.1"}
    assert fake.requests[0].headers["Authorization"] == "S" * 40
    assert "S" * 40 not in json.dumps(out)


def test_main_maps_api_error(monkeypatch, capsys):
    fake = FakeMisp()
    fake.route("GET", "/servers/getVersion", envelope("Authentication failed."), status=403)
    code, out = run_main(
        misp_info.main,
        {"misp_url": "https://misp.test", "misp_api_key": "k" * 40, "gather": ["version"]},
        fake,
        monkeypatch,
        capsys,
    )
    assert code == 1 and out["failed"] is True
    assert out["status"] == 403 and out["misp_message"] == "Authentication failed."
    assert out["msg"] == "GET /servers/getVersion: HTTP 403: Authentication failed."


def test_main_argument_spec_rules(monkeypatch, capsys):
    code, out = run_main(
        misp_organisation.main,
        {"misp_url": "https://misp.test", "misp_api_key": "k" * 40},
        FakeMisp(),
        monkeypatch,
        capsys,
    )
    assert code == 1 and "one of the following is required: name, uuid, id" in out["msg"]


def test_main_check_mode(monkeypatch, capsys):
    fake = FakeMisp()
    fake.route("GET", "/organisations/index/scope:all", [])
    code, out = run_main(
        misp_organisation.main,
        {"misp_url": "https://misp.test", "misp_api_key": "k" * 40, "name": "New", "_ansible_check_mode": True},
        fake,
        monkeypatch,
        capsys,
    )
    assert code == 0 and out["changed"] is True and fake.writes() == []


# --------------------------------------------------------------------------------------
# list mode through a real AnsibleModule: suboption validation, exclusivity, no_log
# --------------------------------------------------------------------------------------
ARGS = {"misp_url": "https://misp.test", "misp_api_key": "k" * 40}


def test_main_list_mode_is_exclusive_with_single_options(monkeypatch, capsys):
    code, out = run_main(
        misp_organisation.main, {**ARGS, "name": "A", "organisations": [{"name": "B"}]}, FakeMisp(), monkeypatch, capsys
    )
    assert code == 1 and "mutually exclusive: organisations|name" in out["msg"]


def test_main_list_mode_validates_elements(monkeypatch, capsys):
    code, out = run_main(
        misp_user.main,
        {**ARGS, "users": [{"email": "a@x.example", "disabled": "maybe"}]},
        FakeMisp(),
        monkeypatch,
        capsys,
    )
    assert code == 1 and "disabled" in out["msg"]
    code, out = run_main(misp_user.main, {**ARGS, "users": [{"role": "User"}]}, FakeMisp(), monkeypatch, capsys)
    assert code == 1 and "email" in out["msg"]


def test_main_list_mode_hides_element_passwords(monkeypatch, capsys):
    fake = FakeMisp()
    fake.route("GET", "/admin/users/index", [])
    fake.route("POST", "/admin/users/add", lambda req: {"User": {"id": "9", **req.json}})
    users = [{"email": "a@x.example", "password": "Very-s3cret-pw", "org": "1"}, {"email": "b@x.example"}]
    fake.route("GET", "/organisations/index/scope:all", [{"Organisation": {"id": "1", "name": "ORG"}}])
    code, out = run_main(misp_user.main, {**ARGS, "users": users}, fake, monkeypatch, capsys)
    assert code == 0 and out["changed"] is True and len(out["results"]) == 2
    assert fake.writes()[0][2]["password"] == "Very-s3cret-pw" and fake.writes()[0][2]["org_id"] == 1
    assert "Very-s3cret-pw" not in json.dumps(out)
    assert out["api_calls"] == 4


def test_list_argument_spec_and_rules():
    item = {"key": {"type": "str", "required": True}, "state": {"type": "str", "default": "present"}}
    spec = list_argument_spec("things", item, {"force": {"type": "bool"}})
    assert spec["key"] == {"type": "str"}  # the list may replace it
    assert spec["things"]["options"]["key"]["required"] is True
    assert spec["force"] == {"type": "bool"} and spec["state"]["default"] == "present"
    rules = list_mode_rules("things", item)
    assert rules == {
        "mutually_exclusive": [("things", "key"), ("things", "state")],
        "required_one_of": [("key", "things")],
    }


class Echo(MispManager):
    list_option = "things"
    item_spec = {"key": {"type": "str"}, "value": {"type": "int"}, "state": {"type": "str", "default": "present"}}
    identity_keys = ("key",)

    def process(self):
        if self.params["value"] == 13:
            self.fail("unlucky")
        return {"changed": self.params["value"] > 0, "diff": {"before": {}, "after": {"v": self.params["value"]}}}


def test_run_elements_single_and_list_share_one_path():
    single = run_manager(Echo, {"key": "a", "value": 1}, FakeMisp(), spec=Echo.item_spec)
    assert single == {"changed": True, "diff": {"before": {}, "after": {"v": 1}}, "api_calls": 0}
    listed = run_manager(Echo, {"things": [{"key": "a", "value": 1}, {"key": "b", "value": 0}]}, FakeMisp())
    assert listed["changed"] is True
    assert listed["diff"] == {"before": {"a": {}}, "after": {"a": {"v": 1}}}
    assert [r["key"] for r in listed["results"]] == ["a", "b"]
    failed = run_manager(Echo, {"things": [{"key": "a", "value": 1}, {"key": "b", "value": 13}]}, FakeMisp())
    assert failed["msg"] == "b: unlucky" and failed["changed"] is True and len(failed["results"]) == 1
