"""misp_server against MISP 2.5 with Security.encryption_key set: add and edit save the entry,
then answer HTTP 500 (the encrypted authkey in the answer cannot be JSON-encoded). Seen on the
real MISP of the `misp` Molecule scenario."""

import json

from ansible_collections.mispops.misp.plugins.modules.misp_server import ARGUMENT_SPEC, ServerManager
from fake_misp import FakeMisp, FakeModule, envelope, run_manager

KEY = "S" * 40
ORG_UUID = "5f6c8f6e-1b2c-4c1d-9a51-0242ac120002"
ORGS = [{"Organisation": {"id": "5", "name": "CERT B", "uuid": ORG_UUID, "local": False}}]
ERROR_BODY = envelope("An Internal Error Has Occurred.", url="/servers/add")
ERROR_500 = (500, ERROR_BODY)  # what a route handler returns


def row(**over):
    server = {"id": "3", "name": "CERT B", "url": "https://misp-b.example.org", "push": False, "pull": True}
    server["remote_org_id"] = "5"
    server.update(over)
    return {"Server": server}


def params(**over):
    base = {"name": "CERT B", "url": "https://misp-b.example.org", "remote_org_uuid": ORG_UUID}
    base.update(remote_org_name="CERT B", authkey=KEY, pull=True, push=False)
    base.update(over)
    return base


def fake_with(index):
    fake = FakeMisp()
    fake.route("GET", "/servers/index", lambda req: index)
    fake.route("GET", "/organisations/index/scope:all", ORGS)
    return fake


def run(fake, p):
    module = FakeModule(p, spec=ARGUMENT_SPEC)
    return run_manager(ServerManager, p, fake, spec=ARGUMENT_SPEC, module=module), module


def test_add_saved_despite_500_is_read_back():
    index = []

    def add(req):
        index.append(row())
        return ERROR_500

    fake = fake_with(index)
    fake.route("POST", "/servers/add", add)
    result, module = run(fake, params())
    assert result.get("failed") is not True, result
    assert result["changed"] is True
    assert result["server"]["id"] == "3"
    assert [c[:2] for c in fake.calls][-1] == ("GET", "/servers/index")
    assert any("HTTP 500" in w for w in module.warnings)
    assert KEY not in json.dumps(result)


def test_add_500_without_saved_entry_fails():
    fake = fake_with([])
    fake.route("POST", "/servers/add", ERROR_BODY, status=500)
    result, _module = run(fake, params())
    assert result["failed"] is True
    assert result["status"] == 500


def test_edit_500_is_accepted_only_when_the_change_is_there():
    index = [row()]

    def edit(req):
        index[0] = row(push=True)
        return ERROR_500

    fake = fake_with(index)
    fake.route("POST", "/servers/edit/3", edit)
    result, _module = run(fake, params(push=True))
    assert result["changed"] is True
    assert result["server"]["push"] is True

    fake = fake_with([row()])  # the edit did not happen
    fake.route("POST", "/servers/edit/3", ERROR_BODY, status=500)
    result, _module = run(fake, params(push=True))
    assert result["failed"] is True
