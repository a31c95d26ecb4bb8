"""The community configuration on a real MISP, checked with PyMISP, curl and the database.

PyMISP, the independent client, runs on the MISP host against MISP's public URL; the page checks
fetch the login page over HTTPS as a browser would.
"""

import base64
import json
import os
import pathlib
import stat

import pytest
from misp_verify import CURL, run_pymisp

testinfra_hosts = ["comm-misp"]
URL = "https://comm-misp"
SCENARIO_DIR = pathlib.Path(__file__).resolve().parent.parent
LOGO = (SCENARIO_DIR / "files" / "comm-logo.png").read_bytes()

ORGS = {
    "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d": ("CERT-Comm", True),
    "1b7e4c2a-3d5f-4e6a-9b8c-7d6e5f4a3b21": ("Bank A", True),
    "2c8f5d3b-4e6a-4f7b-8c9d-8e7f6a5b4c32": ("Bank B", False),
    "3d9a6e4c-5f7b-4a8c-9dae-9f8a7b6c5d43": ("Insurer C", False),
}
USERS = {
    # email: (organisation, role, autoalert)
    "analyst@cert-comm.test": ("CERT-Comm", "Publisher", True),
    "soc@bank-a.test": ("Bank A", "User", True),
    "admin@bank-a.test": ("Bank A", "Org Admin", None),
    "auditor@bank-a.test": ("Bank A", "Read Only", False),
    "svc-ingest@cert-comm.test": ("CERT-Comm", "User", False),
}
ALERT_FILTERS = {
    "analyst@cert-comm.test": {"OR": {"EventTag.name": ["sp-threat:%"]}},
    "soc@bank-a.test": {"OR": {"EventTag.name": ["sp-threat:%", "tlp:amber"]}},
}
HOMEPAGES = {
    "analyst@cert-comm.test": "/events/index",
    "soc@bank-a.test": "/dashboards",
    "auditor@bank-a.test": "/dashboards",
}
SHARING_GROUPS = {
    # uuid: (name, roaming, {member org uuid: extend})
    "4eab7f5d-6a8c-4b9d-8ebf-a09b8c7d6e54": (
        "Comm privacy threats",
        False,
        {
            "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d": True,
            "1b7e4c2a-3d5f-4e6a-9b8c-7d6e5f4a3b21": True,
            "2c8f5d3b-4e6a-4f7b-8c9d-8e7f6a5b4c32": False,
        },
    ),
    "5fbc8a6e-7b9d-4cae-9fc0-b1ac9d8e7f65": (
        "Comm insurers",
        True,
        {
            "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d": True,
            "3d9a6e4c-5f7b-4a8c-9dae-9f8a7b6c5d43": False,
        },
    ),
}
ENABLED_FEEDS = ["CIRCL OSINT Feed", "The Botvrij.eu Data", "Feodo IP Blocklist"]
CUSTOM_FEED_URL = "https://feeds.cert-comm.test/misp/"
NEWS_TITLES = ["Welcome to the CERT-Comm MISP", "Sharing groups", "Feeds"]
TEXTS = [
    "Welcome to the CERT-Comm community MISP",
    "Authorised members of the banking community only",
]
SERVICE_ACCOUNT = "svc-ingest@cert-comm.test"
KEY_COMMENT = "managed-by-ansible:misp_community"


def pymisp(host, key, code):
    """Run PyMISP on the MISP host; ``code`` prints one JSON document."""
    return run_pymisp(host, URL, code, key)


@pytest.fixture(scope="module")
def login_page(host):
    return host.check_output(f"{CURL} {URL}/users/login")


@pytest.fixture(scope="module")
def users(host, admin_key):
    listed = pymisp(host, admin_key, "print(json.dumps(misp.users(pythonify=False)))")
    return {entry["User"]["email"]: entry for entry in listed}


@pytest.fixture(scope="module")
def user_settings(host, admin_key):
    rows = pymisp(host, admin_key, "print(json.dumps(misp.direct_call('user_settings/index')))")
    settings = {}
    for row in rows:
        setting = row["UserSetting"]
        value = setting["value"]
        settings.setdefault(str(setting["user_id"]), {})[setting["setting"]] = (
            json.loads(value) if isinstance(value, str) else value
        )
    return settings


@pytest.fixture(scope="module")
def feeds(host, admin_key):
    return [f["Feed"] for f in pymisp(host, admin_key, "print(json.dumps(misp.feeds(pythonify=False)))")]


# --- Feeds ------------------------------------------------------------------------------


def test_default_feeds_loaded(host, feeds):
    defaults = json.loads(host.check_output("cat /var/www/MISP/app/files/feed-metadata/defaults.json"))
    urls = {f["url"] for f in feeds}
    assert {d["Feed"]["url"] for d in defaults} <= urls


@pytest.mark.parametrize("name", ENABLED_FEEDS)
def test_chosen_default_feed_enabled_and_found_by_name(feeds, name):
    found = [f for f in feeds if f["name"].lower() == name.lower()]
    assert len(found) == 1, found
    assert found[0]["enabled"] in (True, 1, "1")
    assert found[0]["caching_enabled"] in (True, 1, "1")


def test_only_the_chosen_default_feeds_enabled(feeds):
    enabled = sorted(f["name"] for f in feeds if f["enabled"] in (True, 1, "1"))
    assert enabled == sorted(ENABLED_FEEDS + ["Comm community feed"])


def test_custom_feed(host, admin_key, feeds):
    found = [f for f in feeds if f["url"] == CUSTOM_FEED_URL]
    assert len(found) == 1
    feed = found[0]
    sg = pymisp(
        host,
        admin_key,
        "print(json.dumps(misp.get_sharing_group('4eab7f5d-6a8c-4b9d-8ebf-a09b8c7d6e54', pythonify=False)))",
    )
    assert (feed["name"], feed["provider"], feed["source_format"]) == ("Comm community feed", "CERT-Comm", "misp")
    assert feed["enabled"] in (True, 1, "1")
    assert int(feed["distribution"]) == 4
    assert str(feed["sharing_group_id"]) == str(sg["SharingGroup"]["id"])
    rules = json.loads(feed["rules"]) if isinstance(feed["rules"], str) else feed["rules"]
    assert rules["tags"]["NOT"] == ["tlp:red"]


# --- Branding ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", TEXTS)
def test_login_page_shows_the_welcome_texts(login_page, text):
    assert text in login_page


def test_login_page_title_footer_and_style(login_page):
    assert "CERT-Comm MISP" in login_page.split("<title>", 1)[1].split("</title>", 1)[0]
    assert "CERT-Comm community" in login_page
    assert "Privacy threats shared responsibly" in login_page
    assert "comm-style.css" in login_page


def test_login_page_shows_the_logo(host, login_page):
    """MISP 2.5 inlines custom images as data: URIs; older versions link img/custom/<file>."""
    inline = base64.b64encode(LOGO).decode()
    assert inline in login_page or "img/custom/comm-logo.png" in login_page


def test_logo_url_answers_with_the_image(host):
    write_out = "-o /tmp/logo.png -w '%{http_code} %{content_type}'"
    out = host.check_output(f"{CURL} {write_out} {URL}/img/custom/comm-logo.png")
    status, content_type = out.split()
    assert status == "200"
    assert content_type.startswith("image/png")
    served = host.check_output("base64 -w0 /tmp/logo.png")
    assert base64.b64decode(served) == LOGO


def test_style_sheet_is_served(host):
    css = host.check_output(f"{CURL} {URL}/css/comm-style.css")
    assert ".comm-branding-marker" in css


@pytest.mark.parametrize("email", sorted(HOMEPAGES))
def test_user_homepage(users, user_settings, email):
    settings = user_settings[str(users[email]["User"]["id"])]
    assert settings["homepage"] == {"path": HOMEPAGES[email]}


# --- News -------------------------------------------------------------------------------


def test_each_news_item_present_once(host):
    titles = host.check_output("mysql -N -B -e 'SELECT title FROM misp.news'").splitlines()
    for title in NEWS_TITLES:
        assert titles.count(title) == 1, titles


# --- Organisations, users, sharing groups, service account --------------------------------


@pytest.mark.parametrize("uuid", sorted(ORGS))
def test_organisation(host, admin_key, uuid):
    org = pymisp(host, admin_key, f"print(json.dumps(misp.get_organisation({uuid!r}, pythonify=False)))")
    name, local = ORGS[uuid]
    assert org["Organisation"]["name"] == name
    assert org["Organisation"]["local"] in ((True, 1, "1") if local else (False, 0, "0"))


@pytest.mark.parametrize("email", sorted(USERS))
def test_user_organisation_role_and_alert(users, email):
    org, role, autoalert = USERS[email]
    entry = users[email]
    assert entry["Organisation"]["name"] == org
    assert entry["Role"]["name"] == role
    if autoalert is not None:
        assert bool(entry["User"]["autoalert"]) is autoalert


@pytest.mark.parametrize("email", sorted(ALERT_FILTERS))
def test_user_publish_alert_filter(users, user_settings, email):
    settings = user_settings[str(users[email]["User"]["id"])]
    assert settings["publish_alert_filter"] == ALERT_FILTERS[email]


@pytest.mark.parametrize("uuid", sorted(SHARING_GROUPS))
def test_sharing_group_members_and_extend_flags(host, admin_key, uuid):
    sg = pymisp(host, admin_key, f"print(json.dumps(misp.get_sharing_group({uuid!r}, pythonify=False)))")
    name, roaming, members = SHARING_GROUPS[uuid]
    assert sg["SharingGroup"]["name"] == name
    assert bool(sg["SharingGroup"]["roaming"]) is roaming
    have = {row["Organisation"]["uuid"]: bool(row["extend"]) for row in sg["SharingGroupOrg"]}
    assert have == members
    servers = [int(row["server_id"]) for row in sg.get("SharingGroupServer") or []]
    if not roaming:
        assert servers == [0]  # the local instance, once


def test_service_account_key_file_exists_once_and_is_private():
    directory = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "credentials")
    files = [f for f in os.listdir(directory) if f.startswith(SERVICE_ACCOUNT + ".")]
    assert files == [SERVICE_ACCOUNT + ".key"]
    mode = stat.S_IMODE(os.stat(os.path.join(directory, files[0])).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(directory).st_mode) == 0o700


def test_service_account_key_works_and_is_the_only_managed_one(host, admin_key):
    path = os.path.join(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"], "credentials", SERVICE_ACCOUNT + ".key")
    key = pathlib.Path(path).read_text().strip()
    assert len(key) == 40
    me = pymisp(host, key, "print(json.dumps(misp.get_user('me', pythonify=False)))")
    assert me["User"]["email"] == SERVICE_ACCOUNT
    keys = pymisp(host, admin_key, "print(json.dumps(misp.direct_call('auth_keys/index')))")
    managed = [k for k in keys if k["AuthKey"]["comment"] == KEY_COMMENT]
    assert [k["User"]["email"] for k in managed] == [SERVICE_ACCOUNT]
    assert (managed[0]["AuthKey"]["authkey_start"], managed[0]["AuthKey"]["authkey_end"]) == (key[:4], key[-4:])


# --- The S&P threat taxonomy ------------------------------------------------------------


@pytest.fixture(scope="module")
def sp_threat(host, admin_key):
    return pymisp(host, admin_key, "print(json.dumps(misp.get_taxonomy('sp-threat', pythonify=False)))")


def sp_threat_tags():
    path = SCENARIO_DIR.parent.parent / "roles" / "misp_taxonomies" / "files" / "sp-threat" / "machinetag.json"
    doc = json.loads(path.read_text())
    with_values = {v["predicate"] for v in doc.get("values", [])}
    tags = [f'sp-threat:{v["predicate"]}="{e["value"]}"' for v in doc.get("values", []) for e in v["entry"]]
    tags += [f"sp-threat:{p['value']}" for p in doc["predicates"] if p["value"] not in with_values]
    return tags


def test_sp_threat_taxonomy_enabled_and_required(sp_threat):
    taxonomy = sp_threat["Taxonomy"]
    assert taxonomy["enabled"] in (True, 1, "1")
    assert taxonomy["required"] in (True, 1, "1")


def test_sp_threat_taxonomy_has_all_its_tags(host, admin_key, sp_threat):
    wanted = sp_threat_tags()
    assert len(wanted) == 51
    entries = {e["tag"]: e for e in sp_threat["entries"]}
    assert set(entries) == set(wanted)
    missing = [t for t in wanted if not entries[t].get("existing_tag")]
    assert not missing
    tags = pymisp(host, admin_key, "print(json.dumps(misp.search_tags('sp-threat:%', pythonify=False)))")
    visible = {t["Tag"]["name"] for t in tags if not t["Tag"].get("hide_tag")}
    assert set(wanted) <= visible


def test_sp_threat_tag_attached_to_an_event(host, admin_key):
    tag = sp_threat_tags()[0]
    code = f"""
event = pymisp.MISPEvent()
event.info = 'misp_community verify: S&P threat tag'
event.distribution = 0
event.add_tag({tag!r})
event = misp.add_event(event, pythonify=True)
read = misp.get_event(event.id, pythonify=True)
misp.delete_event(event.id)
print(json.dumps([t.name for t in read.tags]))
"""
    assert tag in pymisp(host, admin_key, code)
