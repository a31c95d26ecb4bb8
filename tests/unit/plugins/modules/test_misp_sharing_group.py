import copy

import pytest
from ansible_collections.mispops.misp.plugins.modules.misp_sharing_group import ARGUMENT_SPEC, SharingGroupManager
from fake_misp import FakeMisp, envelope, run_manager

ACTIVE = "/sharing_groups/index/limit:9999"  # the REST index is paginated (60) without a limit
INACTIVE = "/sharing_groups/index/true/limit:9999"

SG_UUID = "6a3c2a3e-8b9f-4f51-a1a0-3c1f5e0d7b11"
HOST_UUID = "11111111-1111-4111-8111-111111111111"
BANK_UUID = "22222222-2222-4222-8222-222222222222"
CERT_B_UUID = "5f6c8f6e-1b2c-4c1d-9a51-0242ac120002"

ORGS = [
    {"Organisation": {"id": "1", "name": "ORGA", "uuid": HOST_UUID, "local": True}},
    {"Organisation": {"id": "2", "name": "Bank A", "uuid": BANK_UUID, "local": True}},
    {"Organisation": {"id": "5", "name": "CERT B", "uuid": CERT_B_UUID, "local": False}},
]
SERVERS = [{"Server": {"id": "3", "name": "CERT B", "url": "https://misp-b.example.org"}}]


def sg_item(
    orgs=((HOST_UUID, "ORGA", "1", True), (BANK_UUID, "Bank A", "2", False)), servers=((0, False, "7"),), **over
):
    """An index entry as /sharing_groups/index returns it (index has no server url, local = empty Server)."""
    sg = {
        "id": "4",
        "uuid": SG_UUID,
        "name": "FinSec community",
        "description": "Members",
        "releasability": "FinSec only",
        "local": True,
        "active": True,
        "roaming": False,
        "org_count": len(orgs),
    }
    sg.update(over)
    return {
        "SharingGroup": sg,
        "Organisation": {"id": "1", "name": "ORGA", "uuid": HOST_UUID},
        "SharingGroupOrg": [
            {
                "id": str(10 + i),
                "sharing_group_id": "4",
                "org_id": oid,
                "extend": ext,
                "Organisation": {"name": name, "id": oid, "uuid": uuid},
            }
            for i, (uuid, name, oid, ext) in enumerate(orgs)
        ],
        "SharingGroupServer": [
            {
                "id": row_id,
                "sharing_group_id": "4",
                "server_id": str(sid),
                "all_orgs": all_orgs,
                "Server": {} if sid == 0 else {"id": str(sid), "name": "CERT B"},
            }
            for sid, all_orgs, row_id in servers
        ],
        "editable": True,
        "deletable": True,
    }


def params(**over):
    p = {
        "uuid": SG_UUID,
        "name": "FinSec community",
        "description": "Members",
        "releasability": "FinSec only",
        "roaming": False,
        "organisations": [{"uuid": HOST_UUID, "extend": True}, {"name": "Bank A"}],
        "servers": [{"local": True}],
    }
    p.update(over)
    return p


@pytest.fixture
def fake():
    f = FakeMisp()
    f.route("GET", ACTIVE, {"response": [sg_item()]})
    f.route("GET", INACTIVE, {"response": []})
    f.route("GET", "/organisations/index/scope:all", ORGS)
    f.route("GET", "/servers/index", SERVERS)
    f.route(
        "GET", "/servers/getSetting/MISP.baseurl", {"setting": "MISP.baseurl", "value": "https://misp-a.example.org"}
    )
    return f


def run(fake, p, check_mode=False):
    return run_manager(SharingGroupManager, p, fake, check_mode=check_mode, spec=ARGUMENT_SPEC)


def test_no_change_only_list_calls(fake):
    result = run(fake, params())
    assert result["changed"] is False, result
    assert fake.calls == [("GET", ACTIVE, None), ("GET", "/organisations/index/scope:all", None)]
    assert result["sharing_group"]["uuid"] == SG_UUID
    assert {o["name"] for o in result["sharing_group"]["organisations"]} == {"ORGA", "Bank A"}


def test_fields_and_members_change_in_one_edit(fake):
    fake.route("POST", f"/sharing_groups/edit/{SG_UUID}", {"SharingGroup": {"id": "4"}})
    fake.route("GET", f"/sharing_groups/view/{SG_UUID}", sg_item())
    p = params(
        description="New text",
        organisations=[
            {"uuid": HOST_UUID, "extend": True},
            {"name": "Bank A", "extend": True},  # extend change: addOrg cannot do it
            {"uuid": CERT_B_UUID},  # addition
        ],
        servers=[{"local": True}, {"url": "https://misp-b.example.org/", "all_orgs": True}],
    )
    result = run(fake, p)
    assert result["changed"] is True
    writes = fake.writes()
    assert len(writes) == 1
    method, path, body = writes[0]
    assert path == f"/sharing_groups/edit/{SG_UUID}"
    assert body["description"] == "New text"
    orgs = {o["Organisation"]["uuid"]: o["extend"] for o in body["SharingGroupOrg"]}
    assert orgs == {BANK_UUID: True, CERT_B_UUID: False}
    assert body["SharingGroupServer"] == [
        {"all_orgs": True, "Server": {"url": "https://misp-b.example.org", "all_orgs": True}}
    ]
    assert "modified" not in body  # edit ignores updates older than the stored modified
    assert result["diff"]["before"]["description"] == "Members"
    assert result["diff"]["after"]["description"] == "New text"
    assert len(result["diff"]["after"]["organisations"]) == 3


def test_check_mode_writes_nothing(fake):
    result = run(fake, params(description="New text", organisations=[{"uuid": HOST_UUID, "extend": True}]), True)
    assert result["changed"] is True
    assert fake.writes() == []
    assert [o["uuid"] for o in result["sharing_group"]["organisations"]] == [HOST_UUID]


def test_org_removal_uses_remove_org(fake):
    fake.route("POST", "/sharing_groups/removeOrg/4/2", {"saved": True, "success": True})
    fake.route("GET", f"/sharing_groups/view/{SG_UUID}", sg_item(orgs=((HOST_UUID, "ORGA", "1", True),)))
    result = run(fake, params(organisations=[{"uuid": HOST_UUID, "extend": True}]))
    assert result["changed"] is True
    assert fake.writes() == [("POST", "/sharing_groups/removeOrg/4/2", {})]
    assert len(result["sharing_group"]["organisations"]) == 1


def test_server_removal_refused_when_buggy_remove_would_hit_wrong_row(fake):
    item = sg_item(servers=((0, False, "7"), (3, False, "8")))
    fake.route("GET", ACTIVE, {"response": [item]})
    fake.route("GET", f"/sharing_groups/view/{SG_UUID}", item)
    result = run(fake, params())
    assert result["failed"] is True
    assert "10640" in result["msg"]
    assert fake.writes() == []


def test_server_removal_when_row_id_equals_server_id(fake):
    item = sg_item(servers=((0, False, "7"), (3, False, "3")))
    fake.route("GET", ACTIVE, {"response": [item]})
    fake.route("GET", f"/sharing_groups/view/{SG_UUID}", item)
    fake.route("POST", "/sharing_groups/removeServer/4/3", {"saved": True, "success": True})
    result = run(fake, params())
    assert result["changed"] is True
    assert fake.writes() == [("POST", "/sharing_groups/removeServer/4/3", {})]


def test_server_removal_unsafe_opt_in(fake):
    item = sg_item(servers=((0, False, "7"), (3, False, "8")))
    fake.route("GET", ACTIVE, {"response": [item]})
    fake.route("GET", f"/sharing_groups/view/{SG_UUID}", sg_item())
    fake.route("POST", "/sharing_groups/removeServer/4/3", {"saved": True, "success": True})
    result = run(fake, params(remove_servers_unsafe=True))
    assert result["changed"] is True


def test_local_instance_cannot_be_removed_so_it_is_left(fake):
    result = run(fake, params(servers=[], roaming=True), check_mode=True)
    assert result["changed"] is True  # roaming changes
    assert "servers" not in result["diff"]["after"]
    assert fake.writes() == []


def test_non_roaming_needs_a_server(fake):
    result = run(fake, params(servers=[]))
    assert result["failed"] is True
    assert "at least one server" in result["msg"]


def test_create_with_uuid_and_local_plus_remote(fake):
    fake.route("GET", ACTIVE, {"response": []})
    fake.route("POST", "/sharing_groups/add", {"SharingGroup": {"id": "9", "uuid": SG_UUID}})
    fake.route("GET", f"/sharing_groups/view/{SG_UUID}", sg_item(id="9"))
    p = params(servers=[{"local": True}, {"name": "CERT B"}], active=True)
    result = run(fake, p)
    assert result["changed"] is True
    adds = [w for w in fake.writes() if w[1] == "/sharing_groups/add"]
    body = adds[0][2]
    assert body["uuid"] == SG_UUID
    assert body["active"] is True
    urls = [s["Server"]["url"] for s in body["SharingGroupServer"]]
    assert urls == ["https://misp-a.example.org", "https://misp-b.example.org"]  # local = MISP.baseurl
    assert [o["Organisation"]["uuid"] for o in body["SharingGroupOrg"]] == [HOST_UUID, BANK_UUID]
    assert result["sharing_group"]["id"] == "9"


def test_create_only_local_lets_misp_add_it(fake):
    fake.route("GET", ACTIVE, {"response": []})
    fake.route("POST", "/sharing_groups/add", {"SharingGroup": {"id": "9", "uuid": SG_UUID}})
    fake.route("GET", f"/sharing_groups/view/{SG_UUID}", sg_item(id="9"))
    run(fake, params())
    body = fake.writes()[0][2]
    assert "SharingGroupServer" not in body
    assert ("GET", "/servers/getSetting/MISP.baseurl", None) not in fake.calls


def test_create_check_mode(fake):
    fake.route("GET", ACTIVE, {"response": []})
    result = run(fake, params(), check_mode=True)
    assert result["changed"] is True
    assert fake.writes() == []
    assert result["diff"]["after"]["name"] == "FinSec community"


def test_inactive_group_found_in_second_list(fake):
    fake.route("GET", ACTIVE, {"response": []})
    fake.route("GET", INACTIVE, {"response": [sg_item(active=False)]})
    result = run(fake, params())
    assert result["changed"] is False
    assert result["sharing_group"]["active"] is False


def test_active_change_on_existing_group_fails_clearly(fake):
    result = run(fake, params(active=False))
    assert result["failed"] is True
    assert "web UI" in result["msg"]


def test_name_clash_with_other_uuid(fake):
    result = run(fake, params(uuid="99999999-9999-4999-8999-999999999999"))
    assert result["failed"] is True
    assert SG_UUID in result["msg"]


def test_unknown_org_fails(fake):
    result = run(fake, params(organisations=[{"name": "Nobody"}]))
    assert result["failed"] is True
    assert "Nobody" in result["msg"]


def test_unknown_org_with_uuid_and_name_is_left_to_misp(fake):
    fake.route("POST", f"/sharing_groups/edit/{SG_UUID}", {})
    fake.route("GET", f"/sharing_groups/view/{SG_UUID}", sg_item())
    new_uuid = "33333333-3333-4333-8333-333333333333"
    orgs = [{"uuid": HOST_UUID, "extend": True}, {"name": "Bank A"}, {"uuid": new_uuid, "name": "Partner"}]
    result = run(fake, params(organisations=orgs))
    assert result["changed"] is True
    body = fake.writes()[0][2]
    assert body["SharingGroupOrg"] == [{"extend": False, "Organisation": {"uuid": new_uuid, "name": "Partner"}}]


def test_unknown_server_fails(fake):
    result = run(fake, params(servers=[{"local": True}, {"url": "https://nowhere.example.org"}]))
    assert result["failed"] is True
    assert "misp_server" in result["msg"]


def test_absent(fake):
    fake.route("POST", "/sharing_groups/delete/4", {"saved": True, "success": True})
    result = run(fake, {"uuid": SG_UUID, "state": "absent"})
    assert result["changed"] is True
    assert fake.writes() == [("POST", "/sharing_groups/delete/4", {})]
    fake.route("GET", ACTIVE, {"response": []})
    assert run(fake, {"uuid": SG_UUID, "state": "absent"})["changed"] is False


def test_api_error_mapped(fake):
    fake.route(
        "POST",
        f"/sharing_groups/edit/{SG_UUID}",
        envelope("Could not save sharing group.", saved=False),
        status=403,
    )
    result = run(fake, params(description="x"))
    assert result["failed"] is True
    assert result["status"] == 403
    assert "Could not save" in result["misp_message"]


def test_index_without_server_id_field():
    """Older index answers only carry all_orgs and Server{id,name}; local rows have an empty Server."""
    from ansible_collections.mispops.misp.plugins.modules.misp_sharing_group import current_members

    item = copy.deepcopy(sg_item(servers=((0, False, "7"), (3, True, "8"))))
    for row in item["SharingGroupServer"]:
        row.pop("server_id")
    _orgs, servers = current_members(item)
    assert set(servers) == {0, 3}
    assert servers[3]["all_orgs"] is True


def test_requires_uuid_or_name():
    result = run(FakeMisp(), {"description": "x"})
    assert result["failed"] is True


# -- list mode: sharing_groups ------------------------------------------------------------
def sg_uuid(i):
    return f"6a3c2a3e-8b9f-4f51-a1a0-{i:012d}"


def many_groups(n=100):
    return [sg_item(id=str(i), uuid=sg_uuid(i), name=f"Group {i:03d}") for i in range(1, n + 1)]


@pytest.fixture
def many(fake):
    fake.route("GET", ACTIVE, {"response": many_groups()})
    return fake


def wanted_groups(n=100):
    return [params(uuid=sg_uuid(i), name=f"Group {i:03d}") for i in range(1, n + 1)]


def test_list_no_change_one_list_call_for_100(many):
    result = run(many, {"sharing_groups": wanted_groups()})
    assert result["changed"] is False, result
    assert many.calls == [("GET", ACTIVE, None), ("GET", "/organisations/index/scope:all", None)]
    assert len(result["results"]) == 100
    assert result["results"][9]["uuid"] == sg_uuid(10) and result["results"][9]["sharing_group"]["id"] == "10"


def mixed_groups():
    items = wanted_groups()
    items[1]["description"] = "Changed"  # Group 002
    items[2] = {"uuid": sg_uuid(3), "state": "absent"}  # Group 003
    items.append(params(uuid=sg_uuid(500), name="Group new"))
    return items


def test_list_mixed_writes_only_differences(many):
    many.route("POST", f"/sharing_groups/edit/{sg_uuid(2)}", {"SharingGroup": {"id": "2"}})
    many.route("GET", f"/sharing_groups/view/{sg_uuid(2)}", sg_item(id="2", uuid=sg_uuid(2), name="Group 002"))
    many.route("POST", "/sharing_groups/delete/3", {"saved": True, "success": True})
    many.route("POST", "/sharing_groups/add", {"SharingGroup": {"id": "500", "uuid": sg_uuid(500)}})
    many.route("GET", f"/sharing_groups/view/{sg_uuid(500)}", sg_item(id="500", uuid=sg_uuid(500), name="Group new"))
    result = run(many, {"sharing_groups": mixed_groups()})
    assert result["changed"] is True
    assert [(w[1]) for w in many.writes()] == [
        f"/sharing_groups/edit/{sg_uuid(2)}",
        "/sharing_groups/delete/3",
        "/sharing_groups/add",
    ]
    assert many.writes()[0][2] == {"description": "Changed"}
    reads = [c[1] for c in many.calls if c[0] == "GET"]
    # the lists once (inactive groups only for the group not among the active ones); a view only of
    # the groups just written, to return them
    assert reads == [
        ACTIVE,
        "/organisations/index/scope:all",
        f"/sharing_groups/view/{sg_uuid(2)}",
        INACTIVE,
        f"/sharing_groups/view/{sg_uuid(500)}",
    ]
    assert result["diff"]["before"]["Group 002"] == {"description": "Members"}
    assert result["diff"]["after"]["Group 002"] == {"description": "Changed"}
    assert set(result["diff"]["after"]) == {"Group 002", sg_uuid(3), "Group new"}


def test_list_check_mode_writes_nothing(many):
    result = run(many, {"sharing_groups": mixed_groups()}, check_mode=True)
    assert result["changed"] is True
    assert many.writes() == []
    assert [c[1] for c in many.calls] == [ACTIVE, "/organisations/index/scope:all", INACTIVE]
    assert set(result["diff"]["after"]) == {"Group 002", sg_uuid(3), "Group new"}


def test_list_inactive_index_read_once(fake):
    result = run(fake, {"sharing_groups": [params(uuid=sg_uuid(i), name=f"G{i}") for i in range(1, 4)]}, True)
    assert [c[1] for c in fake.calls].count(INACTIVE) == 1
    assert result["changed"] is True


def test_list_run_option_applies_to_all(many):
    result = run(many, {"sharing_groups": wanted_groups(2), "remove_servers_unsafe": True})
    assert result["changed"] is False
    result = run(many, {"sharing_groups": wanted_groups(2), "roaming": True})
    assert result["failed"] and "mutually exclusive" in result["msg"]
