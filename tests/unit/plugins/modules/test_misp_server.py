import json

import pytest
from ansible_collections.mispops.misp.plugins.modules.misp_server import ARGUMENT_SPEC, ServerManager
from fake_misp import FakeMisp, envelope, run_manager

KEY = "S" * 40
ORG_UUID = "5f6c8f6e-1b2c-4c1d-9a51-0242ac120002"
PUSH_RULES = json.dumps({"tags": {"OR": [], "NOT": []}, "orgs": {"OR": [], "NOT": []}})
PULL_RULES = json.dumps(
    {
        "tags": {"OR": [], "NOT": ["tlp:red"]},
        "orgs": {"OR": [], "NOT": []},
        "type_attributes": {"NOT": []},
        "type_objects": {"NOT": []},
        "url_params": "",
    }
)


def server_row(**over):
    server = {
        "id": "3",
        "name": "CERT B",
        "url": "https://misp-b.example.org",
        "org_id": "1",
        "push": False,
        "pull": True,
        "push_sightings": False,
        "caching_enabled": False,
        "remote_org_id": "5",
        "self_signed": False,
        "pull_rules": PULL_RULES,
        "push_rules": PUSH_RULES,
        "cert_file": None,
        "client_cert_file": None,
        "internal": False,
        "skip_proxy": False,
        "unpublish_event": False,
        "publish_without_email": False,
        "priority": "1",
    }
    server.update(over)
    return {"Server": server, "Organisation": {"id": "1", "name": "ORGA"}, "RemoteOrg": {"id": "5", "name": "CERT B"}}


ORGS = [
    {"Organisation": {"id": "1", "name": "ORGA", "uuid": "11111111-1111-4111-8111-111111111111", "local": True}},
    {"Organisation": {"id": "5", "name": "CERT B", "uuid": ORG_UUID, "local": False}},
]


def base_params(**over):
    params = {
        "name": "CERT B",
        "url": "https://misp-b.example.org/",
        "remote_org_uuid": ORG_UUID,
        "remote_org_name": "CERT B",
        "authkey": KEY,
        "pull": True,
        "push": False,
        "pull_rules": {"tags": {"NOT": ["tlp:red"]}},
    }
    params.update(over)
    return params


@pytest.fixture
def fake():
    f = FakeMisp()
    f.route("GET", "/servers/index", [server_row()])
    f.route("GET", "/organisations/index/scope:all", ORGS)
    return f


def run(fake, params, check_mode=False):
    return run_manager(ServerManager, params, fake, check_mode=check_mode, spec=ARGUMENT_SPEC)


def assert_no_secret(result):
    assert KEY not in json.dumps(result)


def test_no_change_only_list_calls(fake):
    result = run(fake, base_params())
    assert result["changed"] is False
    assert fake.calls == [("GET", "/servers/index", None), ("GET", "/organisations/index/scope:all", None)]
    assert result["server"]["pull_rules"]["tags"]["NOT"] == ["tlp:red"]
    assert "authkey" not in result["server"]
    assert_no_secret(result)


def test_update_flag_and_rules(fake):
    fake.route("POST", "/servers/edit/3", lambda req: server_row(push=True, **{"push_rules": req.json["push_rules"]}))
    result = run(fake, base_params(push=True, push_rules={"tags": {"OR": ["tlp:green"]}}))
    assert result["changed"] is True
    method, path, body = fake.writes()[0]
    assert (method, path) == ("POST", "/servers/edit/3")
    assert body["push"] is True
    assert isinstance(body["push_rules"], str)  # MISP rejects objects
    assert json.loads(body["push_rules"])["tags"]["OR"] == ["tlp:green"]
    assert "authkey" not in body
    assert set(result["diff"]["after"]) == {"push", "push_rules"}
    assert result["diff"]["before"]["push"] is False
    assert_no_secret(result)


def test_check_mode_update_writes_nothing(fake):
    result = run(fake, base_params(push=True), check_mode=True)
    assert result["changed"] is True
    assert fake.writes() == []
    assert result["server"]["push"] is True


def test_update_authkey_always_sends_key_but_never_returns_it(fake):
    fake.route("POST", "/servers/edit/3", server_row(authkey="encrypted-blob"))
    result = run(fake, base_params(update_authkey=True))
    assert result["changed"] is True
    assert result["authkey_updated"] is True
    assert fake.writes()[0][2] == {"authkey": KEY}
    assert "authkey" not in result["server"]
    assert_no_secret(result)


def test_create_with_existing_remote_org(fake):
    fake.route("GET", "/servers/index", [])
    fake.route("POST", "/servers/add", lambda req: {"Server": {**req.json, "id": "7", "authkey": req.json["authkey"]}})
    result = run(fake, base_params())
    assert result["changed"] is True
    body = fake.writes()[0][2]
    assert fake.writes()[0][1] == "/servers/add"
    assert body["remote_org_id"] == "5"
    assert body["url"] == "https://misp-b.example.org"  # trailing slash stripped like MISP does
    assert body["authkey"] == KEY
    assert isinstance(body["pull_rules"], str)
    assert result["server"]["id"] == "7"
    assert result["remote_org_created"] is False
    assert_no_secret(result)


def test_create_also_creates_remote_org(fake):
    fake.route("GET", "/servers/index", [])
    fake.route("GET", "/organisations/index/scope:all", ORGS[:1])
    fake.route("POST", "/admin/organisations/add", lambda req: {"Organisation": {**req.json, "id": "9"}})
    fake.route("POST", "/servers/add", lambda req: {"Server": {**req.json, "id": "7"}})
    result = run(fake, base_params())
    writes = fake.writes()
    assert writes[0] == ("POST", "/admin/organisations/add", {"name": "CERT B", "uuid": ORG_UUID, "local": False})
    assert writes[1][2]["remote_org_id"] == "9"
    assert result["remote_org_created"] is True


def test_check_mode_create_with_new_org_writes_nothing(fake):
    fake.route("GET", "/servers/index", [])
    fake.route("GET", "/organisations/index/scope:all", [])
    result = run(fake, base_params(test=True), check_mode=True)
    assert result["changed"] is True
    assert result["remote_org_created"] is True
    assert fake.writes() == []
    assert result["connection"] is None
    assert result["diff"]["after"]["name"] == "CERT B"
    assert_no_secret(result)


def test_create_without_authkey_fails(fake):
    fake.route("GET", "/servers/index", [])
    result = run(fake, base_params(authkey=None))
    assert result["failed"] is True
    assert "authkey" in result["msg"]


def test_unknown_org_without_create_fails(fake):
    fake.route("GET", "/organisations/index/scope:all", [])
    result = run(fake, base_params(create_remote_org=False))
    assert result["failed"] is True
    assert "not found" in result["msg"]


def test_match_by_name_then_url_change(fake):
    fake.route("POST", "/servers/edit/3", server_row(url="https://new-b.example.org"))
    result = run(fake, base_params(url="https://new-b.example.org"))
    assert result["changed"] is True
    assert fake.writes()[0][2] == {"url": "https://new-b.example.org"}


def test_cert_uploaded_only_when_missing(fake, tmp_path):
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    fake.route("POST", "/servers/edit/3", server_row(cert_file="3.pem"))
    result = run(fake, base_params(cert_file=str(pem)))
    assert result["changed"] is True
    assert "submitted_cert" in fake.writes()[0][2]
    fake.reset()
    fake.route("GET", "/servers/index", [server_row(cert_file="3.pem")])
    result = run(fake, base_params(cert_file=str(pem)))
    assert result["changed"] is False


def test_absent(fake):
    fake.route("POST", "/servers/delete/3", {"saved": True, "success": True, "message": "Server deleted"})
    result = run(fake, {"url": "https://misp-b.example.org", "state": "absent"})
    assert result["changed"] is True
    assert fake.writes() == [("POST", "/servers/delete/3", {})]
    assert_no_secret(result)
    fake.route("GET", "/servers/index", [])
    assert run(fake, {"url": "https://misp-b.example.org", "state": "absent"})["changed"] is False


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            {
                "status": 1,
                "version": "2.5.1",
                "local_version": "2.5.1",
                "mismatch": "proposal",
                "newer": False,
                "post": 1,
            },
            "ok",
        ),
        ({"status": 4, "client_certificate": None}, "authentication_failed"),
        ({"status": 2, "client_certificate": None}, "not_reachable"),
        ({"status": 7, "info": {"perm_sync": False, "perm_sighting": False}}, "not_sync_user"),
    ],
)
def test_connection_test_classified(fake, answer, expected):
    fake.route("POST", "/servers/testConnection/3", answer)
    result = run(fake, base_params(test=True))
    assert result["changed"] is False
    assert result["connection"]["result"] == expected
    assert fake.writes() == [("POST", "/servers/testConnection/3", {})]


def test_connection_test_failure_can_fail_the_task(fake):
    fake.route("POST", "/servers/testConnection/3", {"status": 4})
    result = run(fake, base_params(test=True, fail_on_test_failure=True))
    assert result["failed"] is True
    assert "authentication_failed" in result["msg"]
    assert "Authkey" in result["msg"]
    assert_no_secret(result)


def test_connection_test_unknown_server_is_other(fake):
    fake.route("POST", "/servers/testConnection/3", envelope("Invalid server"), status=404)
    result = run(fake, base_params(test=True))
    assert result["connection"]["result"] == "other"


def test_api_error_mapped(fake):
    fake.route(
        "POST",
        "/servers/edit/3",
        envelope("Could not edit Server", errors={"push_rules": "The push filter rules must be in valid JSON format."}),
        status=403,
    )
    result = run(fake, base_params(push=True))
    assert result["failed"] is True
    assert result["status"] == 403
    assert "valid JSON" in result["misp_message"]
    assert_no_secret(result)


def test_name_or_url_required(fake):
    result = run(fake, {"authkey": KEY})
    assert result["failed"] is True
    assert fake.calls == []


def test_create_with_cert_names_the_file_in_an_edit(fake, tmp_path):
    # MISP 2.5 with Security.encryption_key writes certs/<id>.pem on add but leaves cert_file empty.
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    fake.route("GET", "/servers/index", [])
    fake.route("POST", "/servers/add", lambda req: {"Server": {**req.json, "id": "7", "cert_file": None}})
    fake.route("POST", "/servers/edit/7", lambda req: {"Server": {"id": "7", "name": "CERT B", "cert_file": "7.pem"}})
    result = run(fake, base_params(cert_file=str(pem)))
    writes = fake.writes()
    assert [w[1] for w in writes] == ["/servers/add", "/servers/edit/7"]
    assert writes[1][2]["cert_file"] == "7.pem"
    assert "submitted_cert" in writes[1][2]
    assert "authkey" not in writes[1][2]
    assert result["server"]["cert_file"] == "7.pem"
    assert_no_secret(result)


def test_create_with_cert_recorded_needs_no_edit(fake, tmp_path):
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    fake.route("GET", "/servers/index", [])
    fake.route("POST", "/servers/add", lambda req: {"Server": {**req.json, "id": "7", "cert_file": "7.pem"}})
    run(fake, base_params(cert_file=str(pem)))
    assert [w[1] for w in fake.writes()] == ["/servers/add"]


def test_cert_upload_on_update_names_the_file(fake, tmp_path):
    pem = tmp_path / "ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    fake.route("POST", "/servers/edit/3", server_row(cert_file="3.pem"))
    run(fake, base_params(cert_file=str(pem), update_certs=True))
    assert fake.writes()[0][2]["cert_file"] == "3.pem"
