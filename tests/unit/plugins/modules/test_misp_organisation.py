"""Unit tests for mispops.misp.misp_organisation."""

from __future__ import annotations

from ansible_collections.mispops.misp.plugins.modules.misp_organisation import ARGUMENT_SPEC, OrganisationManager
from fake_misp import FakeMisp, envelope, run_manager

BASE = {"misp_url": "https://misp.test", "misp_api_key": "K" * 40}
INDEX = "/organisations/index/scope:all"
UUID_A = "0b2e6d0c-7c9a-4f1e-8d3b-6a5f4e3d2c1b"

ORGS = [
    {
        "Organisation": {
            "id": "1",
            "name": "ADMIN",
            "uuid": "11111111-1111-4111-8111-111111111111",
            "type": "ADMIN",
            "local": True,
            "description": "",
            "nationality": "",
            "sector": "",
            "contacts": "",
            "restricted_to_domain": [],
        }
    },
    {
        "Organisation": {
            "id": "2",
            "name": "Bank A",
            "uuid": UUID_A,
            "type": "",
            "local": False,
            "description": "A bank",
            "nationality": "Luxembourg",
            "sector": "Financial",
            "contacts": "",
            "restricted_to_domain": [],
        }
    },
]


def fake_misp():
    fake = FakeMisp()
    fake.route("GET", INDEX, ORGS)

    def add(req):
        return {"Organisation": {"id": "3", **req.json}}

    def edit(req):
        org = next(o["Organisation"] for o in ORGS if o["Organisation"]["id"] == req.match.group(1))
        return {"Organisation": {**org, **req.json}}

    fake.route("POST", "/admin/organisations/add", add)
    fake.route("POST", r"^/admin/organisations/edit/(\d+)$", edit)
    fake.route("DELETE", r"^/admin/organisations/delete/(\d+)$", {"saved": True, "success": True})
    return fake


def run(params, fake, check_mode=False):
    return run_manager(OrganisationManager, {**BASE, **params}, fake, check_mode=check_mode, spec=ARGUMENT_SPEC)


def test_no_change_only_one_list_call():
    fake = fake_misp()
    result = run({"name": "Bank A", "uuid": UUID_A.upper(), "local": False, "sector": "Financial"}, fake)
    assert result["changed"] is False
    assert fake.calls == [("GET", INDEX, None)]
    assert result["organisation"]["id"] == "2"


def test_create_sends_only_given_fields():
    fake = fake_misp()
    result = run({"name": "CERT-EX", "type": "CSIRT", "local": True, "restricted_to_domain": ["ex.org"]}, fake)
    assert result["changed"] is True
    assert fake.writes() == [
        (
            "POST",
            "/admin/organisations/add",
            {"name": "CERT-EX", "type": "CSIRT", "local": True, "restricted_to_domain": ["ex.org"]},
        )
    ]
    assert result["diff"]["before"] == {}
    assert result["diff"]["after"]["name"] == "CERT-EX"
    assert result["organisation"]["id"] == "3"


def test_create_check_mode_writes_nothing():
    fake = fake_misp()
    result = run({"name": "CERT-EX"}, fake, check_mode=True)
    assert result["changed"] is True
    assert fake.writes() == []
    assert result["organisation"] == {"name": "CERT-EX"}


def test_update_by_id_renames_and_sets_uuid_with_diff():
    fake = fake_misp()
    new_uuid = "5f8a4c1e-2b7d-4e0f-9a61-3c2d8e7b9a10"
    result = run({"id": 1, "name": "CERT-EX", "uuid": new_uuid, "type": "ADMIN"}, fake)
    assert result["changed"] is True
    assert fake.writes() == [("POST", "/admin/organisations/edit/1", {"name": "CERT-EX", "uuid": new_uuid})]
    assert result["diff"] == {
        "before": {"name": "ADMIN", "uuid": "11111111-1111-4111-8111-111111111111"},
        "after": {"name": "CERT-EX", "uuid": new_uuid},
    }


def test_update_check_mode():
    fake = fake_misp()
    result = run({"name": "Bank A", "sector": "Banking", "local": True}, fake, check_mode=True)
    assert result["changed"] is True
    assert result["diff"] == {
        "before": {"sector": "Financial", "local": False},
        "after": {"sector": "Banking", "local": True},
    }
    assert result["organisation"]["sector"] == "Banking"
    assert fake.writes() == []


def test_found_by_name_when_uuid_unknown_sets_uuid():
    fake = fake_misp()
    run({"name": "ADMIN", "uuid": "5f8a4c1e-2b7d-4e0f-9a61-3c2d8e7b9a10"}, fake)
    assert fake.writes() == [("POST", "/admin/organisations/edit/1", {"uuid": "5f8a4c1e-2b7d-4e0f-9a61-3c2d8e7b9a10"})]


def test_delete_and_delete_again():
    fake = fake_misp()
    result = run({"name": "Bank A", "state": "absent"}, fake)
    assert result["changed"] is True
    assert fake.writes() == [("DELETE", "/admin/organisations/delete/2", None)]
    assert "organisation" not in result
    fake = fake_misp()
    result = run({"name": "Nope", "state": "absent"}, fake)
    assert result["changed"] is False and fake.writes() == []


def test_delete_check_mode():
    fake = fake_misp()
    result = run({"uuid": UUID_A, "state": "absent"}, fake, check_mode=True)
    assert result["changed"] is True and fake.writes() == []
    assert result["diff"]["before"]["name"] == "Bank A"


def test_missing_id_and_missing_name_fail():
    fake = fake_misp()
    assert "not found" in run({"id": 99, "name": "X"}, fake)["msg"]
    assert "name is required" in run({"uuid": "5f8a4c1e-2b7d-4e0f-9a61-3c2d8e7b9a10"}, fake)["msg"]


def test_validation_error_is_mapped():
    fake = fake_misp()
    fake.route(
        "POST",
        "/admin/organisations/add",
        {**envelope("Could not add Organisation", errors={"name": ["Name already used"]}), "saved": False},
        status=403,
    )
    result = run({"name": "Dup"}, fake)
    assert result["failed"] is True and result["status"] == 403
    assert result["misp_message"] == "Could not add Organisation: name: Name already used"


# -- list mode: organisations -------------------------------------------------------------
def many_orgs(n=100):
    return [
        {
            "Organisation": {
                "id": str(i),
                "name": f"Org {i}",
                "uuid": f"00000000-0000-4000-8000-{i:012d}",
                "type": "",
                "local": False,
                "description": "",
                "nationality": "",
                "sector": "Financial",
                "contacts": "",
                "restricted_to_domain": [],
            }
        }
        for i in range(1, n + 1)
    ]


def many_fake(n=100):
    orgs = many_orgs(n)
    fake = FakeMisp()
    fake.route("GET", INDEX, orgs)
    fake.route("POST", "/admin/organisations/add", lambda req: {"Organisation": {"id": "500", **req.json}})
    fake.route(
        "POST",
        r"^/admin/organisations/edit/(\d+)$",
        lambda req: {"Organisation": {**orgs[int(req.match.group(1)) - 1]["Organisation"], **req.json}},
    )
    fake.route("DELETE", r"^/admin/organisations/delete/(\d+)$", {"saved": True, "success": True})
    return fake


def wanted(n=100):
    return [
        {"name": f"Org {i}", "uuid": f"00000000-0000-4000-8000-{i:012d}", "local": False, "sector": "Financial"}
        for i in range(1, n + 1)
    ]


def test_list_no_change_one_list_call_for_100():
    fake = many_fake()
    result = run({"organisations": wanted()}, fake)
    assert result["changed"] is False
    assert fake.calls == [("GET", INDEX, None)]
    assert result["api_calls"] == 1
    assert len(result["results"]) == 100
    assert result["results"][41]["name"] == "Org 42" and result["results"][41]["organisation"]["id"] == "42"
    assert result["diff"] == {"before": {}, "after": {}}


def mixed_orgs():
    items = wanted()
    items[4]["sector"] = "Banking"  # update Org 5
    items[9] = {"name": "Org 10", "state": "absent"}  # delete Org 10
    items.append({"name": "New Org", "type": "CSIRT"})  # create
    return items


def test_list_mixed_writes_only_differences():
    fake = many_fake()
    result = run({"organisations": mixed_orgs()}, fake)
    assert result["changed"] is True
    assert fake.calls[0] == ("GET", INDEX, None)
    assert fake.writes() == [
        ("POST", "/admin/organisations/edit/5", {"sector": "Banking"}),
        ("DELETE", "/admin/organisations/delete/10", None),
        ("POST", "/admin/organisations/add", {"name": "New Org", "type": "CSIRT"}),
    ]
    assert len(fake.calls) == 4  # no per-object reads
    before, after = result["diff"]["before"], result["diff"]["after"]
    assert before == {"Org 5": {"sector": "Financial"}, "Org 10": before["Org 10"], "New Org": {}}
    assert before["Org 10"]["id"] == "10"  # a deleted organisation shows what is gone
    assert after == {"Org 5": {"sector": "Banking"}, "Org 10": {}, "New Org": {"name": "New Org", "type": "CSIRT"}}
    assert [r["changed"] for r in result["results"]].count(True) == 3
    assert "organisation" not in result["results"][9]


def test_list_check_mode_writes_nothing():
    fake = many_fake()
    result = run({"organisations": mixed_orgs()}, fake, check_mode=True)
    assert result["changed"] is True
    assert fake.writes() == [] and fake.calls == [("GET", INDEX, None)]
    assert set(result["diff"]["after"]) == {"Org 5", "Org 10", "New Org"}


def test_list_and_single_options_exclusive_and_duplicates_refused():
    fake = many_fake()
    result = run({"organisations": wanted(2), "name": "X"}, fake)
    assert result["failed"] and "mutually exclusive" in result["msg"]
    result = run({"organisations": [{"name": "A"}, {"name": "a", "sector": "x"}]}, fake)
    assert result["failed"] and "list each object once" in result["msg"]
    assert fake.calls == []


def test_list_failure_names_element_and_reports_done_work():
    fake = many_fake()
    result = run({"organisations": [{"name": "Org 1", "sector": "Banking"}, {"id": 999, "name": "X"}]}, fake)
    assert result["failed"] is True
    assert result["msg"].startswith("X: Organisation id 999 not found")
    assert result["changed"] is True and len(result["results"]) == 1


def test_list_api_error_names_element():
    fake = many_fake()
    fake.route("POST", "/admin/organisations/add", envelope("Could not add Organisation"), status=403)
    result = run({"organisations": [{"name": "Brand new"}]}, fake)
    assert result["failed"] and result["status"] == 403
    assert result["msg"].startswith("Brand new: POST /admin/organisations/add: HTTP 403")
    assert result["results"] == [] and result["changed"] is False
