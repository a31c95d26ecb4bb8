import json

import pytest
from ansible_collections.mispops.misp.plugins.modules.misp_feed import ARGUMENT_SPEC, FeedManager
from fake_misp import FakeMisp, FakeModule, envelope, run_manager

CIRCL = "https://www.circl.lu/doc/misp/feed-osint"
BOTVRIJ = "https://www.botvrij.eu/data/feed-osint"
URLHAUS = "https://urlhaus.abuse.ch/downloads/text_online/"
CUSTOM = "https://feeds.example.org/misp"


def feed(fid, name, url, **over):
    f = {
        "id": str(fid),
        "name": name,
        "provider": "CIRCL",
        "url": url,
        "rules": "",
        "enabled": False,
        "distribution": "0",
        "sharing_group_id": "0",
        "tag_id": "0",
        "default": True,
        "source_format": "misp",
        "fixed_event": False,
        "delta_merge": False,
        "event_id": "0",
        "publish": False,
        "override_ids": False,
        "settings": "",
        "input_source": "network",
        "delete_local_file": False,
        "lookup_visible": False,
        "headers": None,
        "caching_enabled": False,
        "force_to_ids": False,
        "orgc_id": "0",
        "cache_timestamp": False,
    }
    f.update(over)
    return {"Feed": f}


BASE = [feed(1, "CIRCL OSINT Feed", CIRCL), feed(2, "The Botvrij.eu Data", BOTVRIJ, provider="Botvrij.eu")]
LOADED = BASE + [feed(30, "URLHaus", URLHAUS, source_format="freetext", provider="abuse.ch")]


@pytest.fixture
def fake():
    f = FakeMisp()
    f.route("GET", "/feeds/index", BASE)
    return f


def run(fake, p, check_mode=False):
    return run_manager(FeedManager, p, fake, check_mode=check_mode, spec=ARGUMENT_SPEC)


def edit_echo(current):
    def handler(req):
        body = dict(req.json["Feed"])
        return {"Feed": {**current["Feed"], **body}}

    return handler


# -- defaults mode ------------------------------------------------------------------------
def test_defaults_no_change_single_list_call(fake):
    fake.route(
        "GET", "/feeds/index", [feed(1, "CIRCL OSINT Feed", CIRCL, enabled=True, caching_enabled=True)] + BASE[1:]
    )
    result = run(fake, {"defaults": ["circl osint feed"], "enabled": True, "caching_enabled": True})
    assert result["changed"] is False
    assert fake.calls == [("GET", "/feeds/index", None)]
    assert result["feeds"][0]["enabled"] is True


def test_defaults_enable_by_name_and_url(fake):
    fake.route("POST", "/feeds/edit/1", edit_echo(BASE[0]))
    fake.route("POST", "/feeds/edit/2", edit_echo(BASE[1]))
    result = run(fake, {"defaults": ["CIRCL OSINT Feed", BOTVRIJ + "/"], "enabled": True})
    assert result["changed"] is True
    paths = [w[1] for w in fake.writes()]
    assert paths == ["/feeds/edit/1", "/feeds/edit/2"]
    body = fake.writes()[0][2]["Feed"]
    assert body["enabled"] is True
    assert body["settings"] == {}  # always sent: older MISP wipes settings on an edit without them
    assert result["diff"]["before"]["CIRCL OSINT Feed"] == {"enabled": False}
    assert result["diff"]["after"]["CIRCL OSINT Feed"] == {"enabled": True}


def test_defaults_loads_list_when_missing(fake):
    state = {"loaded": False}

    def index(_req):
        return LOADED if state["loaded"] else BASE

    def load(_req):
        state["loaded"] = True
        return {"saved": True, "success": True, "message": "Default feed metadata loaded."}

    fake.route("GET", "/feeds/index", index)
    fake.route("POST", "/feeds/loadDefaultFeeds", load)
    fake.route("POST", "/feeds/edit/30", edit_echo(LOADED[2]))
    fake.route("GET", "/feeds/fetchFromFeed/30", {"result": "Pull queued for background execution."})
    result = run(fake, {"defaults": ["URLHaus"], "enabled": True, "fetch_on_enable": True})
    assert result["loaded_defaults"] is True
    assert [c[1] for c in fake.calls] == [
        "/feeds/index",
        "/feeds/loadDefaultFeeds",
        "/feeds/index",
        "/feeds/edit/30",
        "/feeds/fetchFromFeed/30",
    ]
    assert result["fetched"] == {"URLHaus": "Pull queued for background execution."}


def test_defaults_check_mode(fake):
    result = run(fake, {"defaults": ["CIRCL OSINT Feed", "URLHaus"], "enabled": True}, check_mode=True)
    assert result["changed"] is True
    assert result["loaded_defaults"] is True
    assert fake.writes() == []


def test_defaults_unknown_name_fails_after_loading(fake):
    fake.route("POST", "/feeds/loadDefaultFeeds", {"saved": True, "success": True})
    result = run(fake, {"defaults": ["No such feed"], "enabled": True})
    assert result["failed"] is True
    assert "No such feed" in result["msg"]


def test_defaults_with_sharing_group(fake):
    fake.route(
        "GET",
        "/sharing_groups/index/limit:9999",
        {"response": [{"SharingGroup": {"id": "4", "name": "FinSec", "uuid": "u"}}]},
    )
    fake.route("POST", "/feeds/edit/1", edit_echo(BASE[0]))
    result = run(fake, {"defaults": ["CIRCL OSINT Feed"], "sharing_group": "FinSec"})
    body = fake.writes()[0][2]["Feed"]
    assert body["distribution"] == 4
    assert body["sharing_group_id"] == "4"
    assert result["changed"] is True


# -- single feed --------------------------------------------------------------------------
def custom_params(**over):
    p = {
        "url": CUSTOM,
        "name": "Community feed",
        "provider": "FinSec CERT",
        "source_format": "misp",
        "enabled": True,
        "rules": {"tags": {"OR": [], "NOT": ["tlp:red"]}},
    }
    p.update(over)
    return p


def test_create_custom_feed(fake):
    fake.route("POST", "/feeds/add", lambda req: {"Feed": {**req.json["Feed"], "id": "40"}})
    fake.route("GET", "/feeds/fetchFromFeed/40", {"result": "Fetching the feed has successfully completed."})
    result = run(fake, custom_params(fetch_on_enable=True))
    assert result["changed"] is True
    body = fake.writes()[0][2]["Feed"]
    assert body["url"] == CUSTOM
    assert isinstance(body["rules"], str)
    assert json.loads(body["rules"])["tags"]["NOT"] == ["tlp:red"]
    assert result["feed"]["rules"]["tags"]["NOT"] == ["tlp:red"]
    assert result["fetched"]


def test_custom_feed_no_change(fake):
    rules = json.dumps({"tags": {"NOT": ["tlp:red"], "OR": []}})
    fake.route(
        "GET",
        "/feeds/index",
        BASE
        + [feed(40, "Community feed", CUSTOM + "/", provider="FinSec CERT", enabled=True, rules=rules, default=False)],
    )
    result = run(fake, custom_params())
    assert result["changed"] is False
    assert fake.calls == [("GET", "/feeds/index", None)]


def test_custom_feed_update_keeps_settings(fake):
    settings = json.dumps({"csv": {"value": "1", "delimiter": ","}, "common": {"excluderegex": ""}})
    row = feed(40, "Community feed", CUSTOM, provider="FinSec CERT", source_format="csv", settings=settings)
    fake.route("GET", "/feeds/index", BASE + [row])
    fake.route("POST", "/feeds/edit/40", edit_echo(row))
    result = run(fake, {"url": CUSTOM, "caching_enabled": True})
    body = fake.writes()[0][2]["Feed"]
    assert body["caching_enabled"] is True
    assert body["settings"] == json.loads(settings)
    assert result["diff"] == {"before": {"caching_enabled": False}, "after": {"caching_enabled": True}}


def test_custom_feed_check_mode(fake):
    result = run(fake, custom_params(), check_mode=True)
    assert result["changed"] is True
    assert fake.writes() == []
    assert result["feed"]["url"] == CUSTOM


def test_create_needs_name_and_provider(fake):
    result = run(fake, {"url": CUSTOM, "enabled": True})
    assert result["failed"] is True
    assert "provider" in result["msg"]


def test_absent(fake):
    fake.route("POST", "/feeds/delete/2", {"saved": True, "success": True})
    result = run(fake, {"url": BOTVRIJ, "state": "absent"})
    assert result["changed"] is True
    assert fake.writes() == [("POST", "/feeds/delete/2", {})]
    assert run(fake, {"url": CUSTOM, "state": "absent"})["changed"] is False


def test_load_only_reports_added(fake):
    state = {"loaded": False}
    fake.route("GET", "/feeds/index", lambda _r: LOADED if state["loaded"] else BASE)

    def load(_req):
        state["loaded"] = True
        return {"saved": True, "success": True}

    fake.route("POST", "/feeds/loadDefaultFeeds", load)
    result = run(fake, {"load_defaults": True})
    assert result["changed"] is True
    assert result["added"] == ["URLHaus"]
    result = run(fake, {"load_defaults": True})
    assert result["changed"] is False


def test_api_error_mapped(fake):
    fake.route("POST", "/feeds/edit/1", envelope("Feed could not be updated. Invalid fields: url"), status=403)
    result = run(fake, {"defaults": ["CIRCL OSINT Feed"], "enabled": True})
    assert result["failed"] is True
    assert result["status"] == 403
    assert "Invalid fields" in result["misp_message"]


def test_url_and_defaults_exclusive():
    result = run(FakeMisp(), {"url": CUSTOM, "defaults": ["x"]})
    assert result["failed"] is True


# -- list mode: feeds ---------------------------------------------------------------------
def feed_url(i):
    return f"https://feeds.example.org/{i:03d}/"


def many_feeds(n=100):
    return [
        feed(i, f"Feed {i:03d}", feed_url(i), provider="FinSec", enabled=True, default=False, headers="Auth: s3cr3t")
        for i in range(1, n + 1)
    ]


@pytest.fixture
def many():
    rows = many_feeds()
    f = FakeMisp()
    f.route("GET", "/feeds/index", rows)
    f.route(
        "POST",
        r"^/feeds/edit/(\d+)$",
        lambda req: {"Feed": {**rows[int(req.match.group(1)) - 1]["Feed"], **req.json["Feed"]}},
    )
    f.route("POST", "/feeds/add", lambda req: {"Feed": {**req.json["Feed"], "id": "500"}})
    f.route("POST", r"^/feeds/delete/(\d+)$", {"saved": True, "success": True})
    return f


def wanted_feeds(n=100):
    return [
        {"url": feed_url(i).rstrip("/"), "name": f"Feed {i:03d}", "provider": "FinSec", "enabled": True}
        for i in range(1, n + 1)
    ]


def test_list_no_change_one_list_call_for_100(many):
    result = run(many, {"feeds": wanted_feeds()})
    assert result["changed"] is False
    assert many.calls == [("GET", "/feeds/index", None)]
    assert len(result["results"]) == 100 and result["results"][0]["feed"]["id"] == "1"
    assert "s3cr3t" not in json.dumps(result)  # feed request headers may carry keys


def mixed_feeds():
    items = wanted_feeds()
    items[1]["caching_enabled"] = True
    items[2] = {"url": feed_url(3), "state": "absent"}
    items.append({"url": CUSTOM, "name": "Community feed", "provider": "FinSec CERT", "enabled": False})
    return items


def test_list_mixed_writes_only_differences(many):
    result = run(many, {"feeds": mixed_feeds()})
    assert result["changed"] is True
    assert [w[1] for w in many.writes()] == ["/feeds/edit/2", "/feeds/delete/3", "/feeds/add"]
    assert [c for c in many.calls if c[0] == "GET"] == [("GET", "/feeds/index", None)]
    assert result["diff"]["before"][feed_url(2).rstrip("/")] == {"caching_enabled": False}
    assert result["diff"]["after"][feed_url(2).rstrip("/")] == {"caching_enabled": True}
    assert set(result["diff"]["after"]) == {feed_url(2).rstrip("/"), feed_url(3), CUSTOM}
    assert result["loaded_defaults"] is False
    assert "s3cr3t" not in json.dumps(result)


def test_list_check_mode_writes_nothing(many):
    result = run(many, {"feeds": mixed_feeds()}, check_mode=True)
    assert result["changed"] is True
    assert many.writes() == [] and len(many.calls) == 1
    assert len(result["diff"]["after"]) == 3


def test_list_loads_defaults_once_when_feeds_are_missing(fake):
    state = {"loaded": False}
    fake.route("GET", "/feeds/index", lambda _r: LOADED if state["loaded"] else BASE)
    fake.route("POST", "/feeds/loadDefaultFeeds", lambda _r: state.update(loaded=True) or {"saved": True})
    fake.route("POST", "/feeds/edit/30", edit_echo(LOADED[2]))
    fake.route("POST", "/feeds/add", lambda req: {"Feed": {**req.json["Feed"], "id": "41"}})
    items = [{"url": URLHAUS, "enabled": True}, {"url": CUSTOM, "name": "C", "provider": "P"}]
    result = run(fake, {"feeds": items, "load_defaults": True})
    assert [c[1] for c in fake.calls] == [
        "/feeds/index",
        "/feeds/loadDefaultFeeds",
        "/feeds/index",
        "/feeds/edit/30",
        "/feeds/add",
    ]
    assert result["loaded_defaults"] is True and result["changed"] is True


def test_list_sharing_group_list_read_once(many):
    many.route("GET", "/sharing_groups/index/limit:9999", {"response": [{"SharingGroup": {"id": "4", "name": "SG"}}]})
    items = [{**f, "distribution": 4, "sharing_group": "SG"} for f in wanted_feeds(3)]
    result = run(many, {"feeds": items})
    assert [c[1] for c in many.calls if c[0] == "GET"] == ["/feeds/index", "/sharing_groups/index/limit:9999"]
    assert [w[1] for w in many.writes()] == ["/feeds/edit/1", "/feeds/edit/2", "/feeds/edit/3"]
    assert result["changed"] is True


def test_list_exclusive_with_defaults_and_single_options(many):
    assert "mutually exclusive" in run(many, {"feeds": wanted_feeds(1), "defaults": ["x"]})["msg"]
    assert "mutually exclusive" in run(many, {"feeds": wanted_feeds(1), "enabled": True})["msg"]
    assert "list each object once" in run(many, {"feeds": [{"url": CUSTOM}, {"url": CUSTOM + "/"}]})["msg"]


def test_failed_first_fetch_warns_and_the_other_feeds_are_still_applied(fake):
    """MISP 2.5 without background jobs answers fetchFromFeed with HTTP 500 (no CakeResque):
    the feed is enabled, the failure is a warning, and the next default feed is still applied."""
    fake.route("POST", "/feeds/edit/1", edit_echo(BASE[0]))
    fake.route("POST", "/feeds/edit/2", edit_echo(BASE[1]))
    fake.route("GET", "/feeds/fetchFromFeed/1", envelope("An Internal Error Has Occurred."), status=500)
    fake.route("GET", "/feeds/fetchFromFeed/2", {"result": "Pull queued for background execution."})
    params = {"defaults": ["CIRCL OSINT Feed", "The Botvrij.eu Data"], "enabled": True, "fetch_on_enable": True}
    module = FakeModule(params, spec=ARGUMENT_SPEC)
    result = run_manager(FeedManager, params, fake, module=module)
    assert result["changed"] is True
    assert [c[1] for c in fake.writes()] == ["/feeds/edit/1", "/feeds/edit/2"]
    assert result["fetched"]["CIRCL OSINT Feed"].startswith("first fetch failed: GET /feeds/fetchFromFeed/1: HTTP 500")
    assert result["fetched"]["The Botvrij.eu Data"] == "Pull queued for background execution."
    assert any("CIRCL OSINT Feed: first fetch failed" in w for w in module.warnings)


def defaults_file(tmp_path, *urls):
    path = tmp_path / "defaults.json"
    entries = [{"Feed": {"name": f"feed {i}", "url": url}, "Tag": {}} for i, url in enumerate(urls)]
    path.write_text(json.dumps(entries))
    return str(path)


def test_defaults_file_all_present_costs_one_list_call(fake, tmp_path):
    result = run(fake, {"load_defaults": True, "defaults_file": defaults_file(tmp_path, CIRCL, BOTVRIJ + "/")})
    assert result["changed"] is False
    assert result["loaded_defaults"] is False
    assert fake.writes() == []
    assert result["api_calls"] == 1


def test_defaults_file_missing_feed_loads_the_list(fake, tmp_path):
    state = {"loaded": False}
    fake.route("GET", "/feeds/index", lambda _r: LOADED if state["loaded"] else BASE)
    fake.route("POST", "/feeds/loadDefaultFeeds", lambda _r: state.update(loaded=True) or {"success": True})
    path = defaults_file(tmp_path, CIRCL, BOTVRIJ, URLHAUS)
    checked = run(fake, {"load_defaults": True, "defaults_file": path}, check_mode=True)
    assert checked["changed"] is True and checked["added"] == ["feed 2"]
    assert fake.writes() == []
    result = run(fake, {"load_defaults": True, "defaults_file": path})
    assert result["changed"] is True and result["added"] == ["URLHaus"]
    assert fake.writes() == [("POST", "/feeds/loadDefaultFeeds", {})]
    assert run(fake, {"load_defaults": True, "defaults_file": path})["changed"] is False


def test_unreadable_defaults_file_falls_back_to_loading(fake, tmp_path):
    fake.route("POST", "/feeds/loadDefaultFeeds", {"success": True})
    result = run(fake, {"load_defaults": True, "defaults_file": str(tmp_path / "missing.json")})
    assert result["changed"] is False
    assert [w[1] for w in fake.writes()] == ["/feeds/loadDefaultFeeds"]
