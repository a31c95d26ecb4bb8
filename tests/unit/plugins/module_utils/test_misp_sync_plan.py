"""Link planning of role misp_sync (module_utils/misp_sync.py plan_links) and its filter plugin."""

import pytest
from ansible_collections.mispops.misp.plugins.filter.misp_sync import FilterModule
from ansible_collections.mispops.misp.plugins.module_utils.misp_sync import (
    classify_connection_test,
    link_failure_message,
    plan_errors,
    plan_links,
    slug,
)

A = {
    "host": "misp-a",
    "org_name": "CERT-A",
    "org_uuid": "0A1B2C3D-0000-4A00-8A00-00000000000A",
    "url": "https://misp-a",
}
B = {
    "host": "misp-b",
    "org_name": "CERT-B",
    "org_uuid": "0a1b2c3d-0000-4b00-8b00-00000000000b",
    "url": "https://misp-b/",
    "api_url": "https://misp-b",
    "api_ca_path": "/etc/ssl/certs/misp.crt",
    "validate_certs": True,
    "secrets_dir": "/root/.misp/sync",
}
OUTSIDE = {
    "name": "Partner",
    "remote": "https://misp.partner.example/",
    "remote_org_name": "Partner CERT",
    "remote_org_uuid": "7d3e5f10-2c4b-4a8e-9f61-1b2c3d4e5f60",
    "remote_api_key": "k" * 40,
    "pull": True,
}


def plan(links, local=A, peers=(B,), inventory=("misp-a", "misp-b", "misp-c")):
    return plan_links(links, local, list(peers), list(inventory))


def test_inventory_remote_gets_everything_from_the_peer():
    [p] = plan([{"name": "CERT-B", "remote": "misp-b", "push": True, "ca_file": "files/b.pem"}])
    assert p["errors"] == []
    assert p["remote_host"] == "misp-b"
    assert p["url"] == "https://misp-b"  # trailing slash stripped, as MISP stores it
    assert (p["remote_org_name"], p["remote_org_uuid"]) == ("CERT-B", B["org_uuid"])
    assert (p["push"], p["pull"]) == (True, False)
    # On B: the organisation of A (uuid lower-cased), a sync user and its key file, one per A.
    assert p["sync_user_org_name"] == "CERT-A"
    assert p["sync_user_email"] == "sync-misp-a@misp-sync.invalid"
    assert p["key_comment"] == "managed-by-ansible:misp_sync:misp-a"
    assert p["key_file"] == "/root/.misp/sync/misp-a.key"
    assert p["remote_api_url"] == "https://misp-b"
    assert p["local_ca_file"] == "/root/.misp/sync/CERT-B-ca.pem"
    assert p["self_signed"] is False


def test_link_url_overrides_the_peer_url_and_keys_stay_out_of_the_plan():
    [p] = plan([{"name": "B", "remote": "misp-b", "pull": True, "url": "https://b.example.org"}])
    assert p["url"] == "https://b.example.org"
    [q] = plan([OUTSIDE])
    assert q["errors"] == []
    assert "k" * 40 not in repr(q)
    assert q["remote_api_key_given"] is True
    assert q["remote_host"] is None
    assert q["url"] == "https://misp.partner.example"
    assert q["key_file"] is None and q["sync_user_email"] is None


@pytest.mark.parametrize(
    "link, expected",
    [
        ({"name": "x", "push": True}, "needs remote"),
        ({"name": "x", "remote": "not a host", "push": True}, "neither an inventory hostname nor an http(s) URL"),
        ({"name": "x", "remote": "misp-b"}, "set pull: true, push: true or both"),
        ({"name": "x", "remote": "misp-c", "pull": True}, "in the inventory but not in this play"),
        ({"name": "x", "remote": "misp-a", "pull": True}, "remote is this host itself"),
        ({"name": "x", "remote": "misp-b", "pull": True, "remote_api_key": "k" * 40}, "remote_api_key is for remotes"),
        ({**OUTSIDE, "remote_api_key": ""}, "needs remote_api_key"),
        ({**OUTSIDE, "remote_org_uuid": None}, "remote_org_uuid and remote_org_name"),
        ({**OUTSIDE, "remote_org_uuid": "nope"}, "is not a UUID"),
        ({**OUTSIDE, "pull_rules": "tags"}, "pull_rules must be a mapping"),
        ({**OUTSIDE, "colour": "red"}, "unknown keys colour"),
        ({**OUTSIDE, "url": "ftp://x"}, "url must be an http(s) URL"),
        ({**OUTSIDE, "sync_user_email": "a@b.c"}, "only applies to a remote in the inventory"),
        ({"remote": "misp-b", "pull": True}, "needs a name"),
        ({**OUTSIDE, "sharing_groups": [{"name": "SG"}]}, "needs a uuid"),
        ({**OUTSIDE, "state": "gone"}, "state must be present or absent"),
    ],
)
def test_cross_field_errors(link, expected):
    errors = plan_errors(plan([link]))
    assert any(expected in e for e in errors), errors


def test_absent_link_needs_neither_key_nor_direction():
    [p] = plan([{"name": "old", "remote": "https://old.example", "state": "absent"}])
    assert p["errors"] == []


def test_inventory_remote_needs_both_identities():
    [p] = plan([{"name": "B", "remote": "misp-b", "push": True}], local={**A, "org_uuid": ""})
    assert any("this instance's organisation" in e for e in p["errors"])
    [q] = plan([{"name": "B", "remote": "misp-b", "push": True}], peers=({**B, "org_uuid": ""},))
    assert any("set misp_app_org_name/misp_app_org_uuid on 'misp-b'" in e for e in q["errors"])


def test_duplicates_across_links():
    sg = {"uuid": "5b1c0de0-5a5a-4b5b-9c5c-00000000a0b0", "name": "SG"}
    plans = plan(
        [
            {"name": "B", "remote": "misp-b", "push": True, "sharing_groups": [sg]},
            {**OUTSIDE, "name": "b", "remote": "https://misp-b", "sharing_groups": [sg]},
        ]
    )
    errors = plan_errors(plans)
    assert any("name is used by another link" in e for e in errors)
    assert any("already points at https://misp-b" in e for e in errors)
    assert any("also declared by link B" in e for e in errors)


def test_sharing_group_spans_both_instances():
    [p] = plan(
        [
            {
                "name": "B",
                "remote": "misp-b",
                "push": True,
                "sharing_groups": [
                    {
                        "uuid": "5B1C0DE0-5A5A-4B5B-9C5C-00000000A0B0",
                        "name": "A-B",
                        "releasability": "A and B",
                        "all_orgs": True,
                        "organisations": [{"name": "CERT-C"}, {"uuid": A["org_uuid"]}],
                    }
                ],
            }
        ]
    )
    [sg] = p["sharing_groups"]
    assert sg["uuid"] == "5b1c0de0-5a5a-4b5b-9c5c-00000000a0b0"
    assert sg["roaming"] is False
    assert sg["releasability"] == "A and B"
    assert sg["organisations"] == [
        {"uuid": A["org_uuid"].lower(), "name": "CERT-A", "extend": True},
        {"uuid": B["org_uuid"], "name": "CERT-B", "extend": False},
        {"name": "CERT-C"},  # A's own organisation listed again is not duplicated
    ]
    assert sg["servers"] == [{"local": True}, {"url": "https://misp-b", "all_orgs": True}]


def test_server_options_pass_only_when_given():
    [p] = plan([{**OUTSIDE, "push_sightings": True, "internal": False}])
    assert p["options"] == {"push_sightings": True, "internal": False}


def test_slug():
    assert slug("misp a/b") == "misp-a-b"
    assert slug("...") == "link"


def test_failure_message_names_link_cause_and_fix():
    [p] = plan([{"name": "CERT-B", "remote": "misp-b", "push": True}])
    conn = classify_connection_test({"status": 4})
    text = link_failure_message(p, conn)
    assert text.startswith("link CERT-B (to https://misp-b): authentication_failed: Authentication failed")
    assert "Fix: The organization with which you are synchronized has changed" in text
    assert link_failure_message(p, None).endswith("not tested (the server entry does not exist)")


def test_filter_plugin_exposes_the_plan():
    filters = FilterModule().filters()
    plans = filters["misp_sync_plan"]([OUTSIDE], A, [B], ["misp-a", "misp-b"])
    assert filters["misp_sync_plan_errors"](plans) == []
    assert "not_reachable" in filters["misp_sync_failure_message"](plans[0], classify_connection_test({"status": 2}))
