"""Connection-test classification and sync-rule helpers (module_utils/misp_sync.py).

The answers below follow ServersController::testConnection / Server::runConnectionTest of
MISP 2.5 (see docs/misp-reference.md section 7).
"""

import json

import pytest
from ansible_collections.mispops.misp.plugins.module_utils import misp_sync
from ansible_collections.mispops.misp.plugins.module_utils.misp_sync import (
    classify_connection_test,
    encode_rules,
    normalise_rules,
    rules_equal,
    same_url,
)

OK_ANSWER = {
    "status": 1,
    "local_version": "2.5.1",
    "version": "2.5.1",
    "mismatch": "proposal",  # every 2.x remote with hotfix < 111, even at equal versions
    "newer": False,
    "post": 1,
    "response_encoding": None,
    "request_encoding": ["gzip"],
    "client_certificate": None,
    "uuid": "5f6c8f6e-1b2c-4c1d-9a51-0242ac120099",
}


def test_ok_with_proposal_quirk():
    res = classify_connection_test(OK_ANSWER)
    assert res["result"] == "ok"
    assert res["ok"] is True
    assert res["status"] == 1
    assert res["fix"] is None
    assert res["remote_version"] == "2.5.1"
    assert res["remote_uuid"] == OK_ANSWER["uuid"]


def test_ok_with_hotfix_difference():
    res = classify_connection_test({**OK_ANSWER, "version": "2.5.4", "mismatch": "hotfix", "newer": "remote"})
    assert res["result"] == "ok"


def test_ok_old_remote_without_post_test():
    res = classify_connection_test({**OK_ANSWER, "post": "too old"})
    assert res["result"] == "ok"


@pytest.mark.parametrize(
    ("mismatch", "newer", "side"), [("minor", "local", "the remote"), ("major", "remote", "this instance")]
)
def test_version_mismatch_is_other(mismatch, newer, side):
    res = classify_connection_test({**OK_ANSWER, "version": "2.4.199", "mismatch": mismatch, "newer": newer})
    assert res["result"] == "other"
    assert not res["ok"]
    assert mismatch in res["message"]
    assert side in res["fix"]


@pytest.mark.parametrize("post", [8, 9, 10])
def test_post_test_failures_are_other(post):
    res = classify_connection_test({**OK_ANSWER, "post": post})
    assert res["result"] == "other"
    assert f"({post})" in res["message"]
    assert "proxy" in res["fix"]


def test_unreachable():
    res = classify_connection_test({"status": 2, "client_certificate": None})
    assert res["result"] == "not_reachable"
    assert res["fix"].startswith(misp_sync.FIXES["not_reachable"])
    assert "firewall" in res["fix"]


def test_unreachable_reports_client_certificate_error():
    res = classify_connection_test({"status": 2, "client_certificate": {"error": "Could not read certificate"}})
    assert res["client_certificate_error"] == "Could not read certificate"


def test_authentication_failed():
    res = classify_connection_test({"status": 4, "client_certificate": None})
    assert res["result"] == "authentication_failed"
    assert "Authkey or the server certificate file (.pem)" in res["fix"]


@pytest.mark.parametrize("status", [7, 8])
def test_not_sync_user(status):
    answer = {
        "status": status,
        "info": {"version": "2.5.1", "perm_sync": False, "perm_sighting": status == 8, "uuid": "-"},
        "client_certificate": None,
        "post": {"status": 1},
    }
    res = classify_connection_test(answer)
    assert res["result"] == "not_sync_user"
    assert res["perm_sync"] is False
    assert "belong to a sync user" in res["fix"]
    assert res["remote_version"] == "2.5.1"


def test_unexpected_error():
    res = classify_connection_test({"status": 3, "client_certificate": None})
    assert res["result"] == "other"
    assert "MISP.live" in res["fix"]


@pytest.mark.parametrize(("status", "word"), [(5, "password"), (6, "terms")])
def test_password_and_terms(status, word):
    res = classify_connection_test({"status": status})
    assert res["result"] == "other"
    assert word in res["fix"]


def test_unknown_server_id():
    res = classify_connection_test(
        None, http_status=404, error="POST /servers/testConnection/9: HTTP 404: Invalid server"
    )
    assert res["result"] == "other"
    assert "does not exist" in res["message"]


def test_non_json_answer():
    res = classify_connection_test("<html>Login</html>")
    assert res["result"] == "other"


def test_unknown_status():
    res = classify_connection_test({"status": 42})
    assert res["result"] == "other"
    assert "42" in res["message"]


def test_every_result_is_known_and_json_serialisable():
    for answer in ({"status": s} for s in range(1, 9)):
        res = classify_connection_test(answer)
        assert res["result"] in misp_sync.RESULTS
        json.dumps(res)


def test_fix_texts_are_the_seed_table():
    assert misp_sync.FIXES["not_reachable"] == (
        "There might be a network problem, most likely related with the firewall rules / proxies."
    )
    assert misp_sync.FIXES["not_sync_user"].startswith("The Authkey provided by the counterpart")
    assert misp_sync.FIXES["authentication_failed"].startswith("The organization with which you are synchronized")


# -- rules ------------------------------------------------------------------------------
def test_pull_rules_defaults_filled_and_encoded_as_string():
    encoded = encode_rules({"tags": {"NOT": ["tlp:red"]}}, "pull")
    assert isinstance(encoded, str)
    data = json.loads(encoded)
    assert data["tags"] == {"OR": [], "NOT": ["tlp:red"]}
    assert data["orgs"] == {"OR": [], "NOT": []}
    assert data["type_attributes"] == {"NOT": []}
    assert data["url_params"] == ""


def test_push_rules_have_no_pull_only_keys():
    assert set(normalise_rules(None, "push")) == {"tags", "orgs"}


def test_url_params_dict_becomes_string():
    assert isinstance(normalise_rules({"url_params": {"timestamp": "30d"}}, "pull")["url_params"], str)


def test_rules_equal_ignores_key_order_and_defaults():
    stored = json.dumps({"orgs": {"NOT": [], "OR": []}, "tags": {"NOT": ["tlp:red"], "OR": []}})
    assert rules_equal(stored, {"tags": {"NOT": ["tlp:red"]}}, "push")
    assert not rules_equal(stored, {"tags": {"NOT": ["tlp:amber"]}}, "push")
    assert rules_equal("", {}, "pull")
    assert not rules_equal("{not json", {}, "pull")


def test_same_url():
    assert same_url("https://misp-b.example.org/", "https://MISP-B.example.org")
    assert not same_url(None, "https://x")
