"""Two MISP instances synchronised by role misp_sync: failures classified, events crossing.

sync-a pushes to sync-b (push rules: not tlp:red) and shares the sharing group "A-B sync partners"
with it; sync-b pulls from sync-a. Pushes and pulls are started with MISP's CLI (synchronous),
not left to cron. The uuids and titles of the events go to /tmp/misp-sync-events.log.
"""

import json
import time
import uuid

import pytest
import testinfra
from misp_verify import read_admin_key, run_pymisp

CAKE = "runuser -u www-data -- /var/www/MISP/app/Console/cake"
SG_UUID = "5b1c0de0-5a5a-4b5b-9c5c-00000000a0b0"
ORG_A = "0a1b2c3d-0000-4a00-8a00-00000000000a"
ORG_B = "0a1b2c3d-0000-4b00-8b00-00000000000b"
EVENT_LOG = "/tmp/misp-sync-events.log"
RUN = time.strftime("%Y%m%dT%H%M%S")


@pytest.fixture(scope="module")
def a():
    return testinfra.get_host("docker://sync-a")


@pytest.fixture(scope="module")
def b():
    return testinfra.get_host("docker://sync-b")


def pymisp(host, code):
    """Run PyMISP on the MISP host, as its site admin, against its public URL (https://<its hostname>)."""
    name = host.check_output("hostname")
    key = read_admin_key(host)
    return run_pymisp(host, f"https://{name}", code, key)


def server_id(host, name):
    servers = pymisp(host, "print(json.dumps(misp.servers(pythonify=False)))")
    [entry] = [s["Server"] for s in servers if s["Server"]["name"] == name]
    return entry["id"]


def new_event(host, title, distribution=3, sharing_group=None, tags=()):
    """Create an event on host, published at once (no workers here to run a publish job); return its uuid."""
    event_uuid = str(uuid.uuid4())
    code = f"""
event = pymisp.MISPEvent()
event.uuid = {event_uuid!r}
event.info = {title!r}
event.distribution = {distribution}
event.threat_level_id = 4
event.analysis = 2
if {sharing_group!r}:
    event.sharing_group_id = misp.get_sharing_group({sharing_group!r}, pythonify=True).id
for tag in {list(tags)!r}:
    event.add_tag(tag)
event.add_attribute('ip-dst', '192.0.2.{len(title) % 250 + 1}', distribution=5)
event.published = True
try:
    created = misp.add_event(event, pythonify=True)
except pymisp.exceptions.MISPServerError:
    # Saved and published, then the publish alert's enqueue fails: no background job system runs here.
    created = misp.get_event({event_uuid!r}, pythonify=True)
assert not isinstance(created, dict), created
print(json.dumps({{'uuid': created.uuid, 'published': created.published}}))
"""
    out = pymisp(host, code)
    assert out["uuid"] == event_uuid
    assert out["published"] is True
    with open(EVENT_LOG, "a") as log:
        log.write(
            json.dumps({"run": RUN, "on": host.check_output("hostname"), "uuid": event_uuid, "info": title}) + "\n"
        )
    return event_uuid


def event_on(host, event_uuid):
    """The event as host sees it, or None."""
    code = f"""
answer = misp.get_event({event_uuid!r}, pythonify=False)
print(json.dumps(answer if isinstance(answer, dict) and 'Event' in answer else None))
"""
    return pymisp(host, code)


def cake_sync(host, action, server):
    """Pull or push with MISP's CLI: synchronous, as the site admin (user 1)."""
    out = host.run(f"{CAKE} Server {action} 1 {server} full")
    # After saving what it pulled, MISP queues follow-up jobs; no background job system runs in this
    # scenario (no misp_workers), so that last step fails. The events themselves are checked by the callers.
    assert out.rc == 0 or 'Class "CakeResque" not found' in out.stdout + out.stderr, out.stdout + out.stderr
    return out.stdout


# --- The three failures, produced by side_effect.yml through the role ---


@pytest.fixture(scope="module")
def failures(a):
    return json.loads(a.check_output("cat /root/sync-failures.json"))


def test_wrong_key_is_authentication_failed(failures):
    msg = failures["authentication_failed"]
    assert msg.startswith("link CERT-B (to https://sync-b): authentication_failed: Authentication failed"), msg
    assert "Fix: The organization with which you are synchronized has changed either the Authkey" in msg


def test_stopped_web_server_is_not_reachable(failures):
    msg = failures["not_reachable"]
    assert msg.startswith("link CERT-B (to https://sync-b): not_reachable: Server unreachable"), msg
    assert "Fix: There might be a network problem, most likely related with the firewall rules / proxies." in msg


def test_key_of_a_user_without_sync_permission_is_not_sync_user(failures):
    msg = failures["not_sync_user"]
    assert msg.startswith("link CERT-B (to https://sync-b): not_sync_user: Remote user not a sync user"), msg
    assert "Fix: The Authkey provided by the counterpart do not belong to a sync user." in msg


# --- Both ends made by one run ---


def test_sync_user_of_a_on_b_with_its_key_kept_root_only(b):
    users = pymisp(b, "print(json.dumps(misp.users(pythonify=False)))")
    [user] = [u for u in users if u["User"]["email"] == "sync-sync-a@misp-sync.invalid"]
    assert user["Role"]["name"] == "Sync user"
    org = pymisp(b, f"print(json.dumps(misp.get_organisation({ORG_A!r}, pythonify=False)))")
    assert user["User"]["org_id"] == org["Organisation"]["id"]
    assert org["Organisation"]["name"] == "CERT-A"
    key_file = b.file("/root/.misp/sync/sync-a.key")
    assert (key_file.user, key_file.group, key_file.mode) == ("root", "root", 0o600)
    assert b.file("/root/.misp/sync").mode == 0o700
    assert len(key_file.content_string.strip()) == 40


def test_server_entries_point_at_the_remote_org_with_tls_verified(a, b):
    for host, name, url, org, push, pull in (
        (a, "CERT-B", "https://sync-b", ORG_B, True, False),
        (b, "CERT-A", "https://sync-a", ORG_A, False, True),
    ):
        servers = pymisp(host, "print(json.dumps(misp.servers(pythonify=False)))")
        [entry] = [s for s in servers if s["Server"]["name"] == name]
        assert entry["Server"]["url"] == url
        assert entry["RemoteOrg"]["uuid"] == org
        assert (entry["Server"]["push"], entry["Server"]["pull"]) == (push, pull)
        assert entry["Server"]["self_signed"] is False
        assert entry["Server"]["cert_file"]


@pytest.mark.parametrize("side", ["sync-a", "sync-b"])
def test_links_test_ok_after_the_failures_were_repaired(a, b, side):
    host, name = (a, "CERT-B") if side == "sync-a" else (b, "CERT-A")
    answer = pymisp(host, f"print(json.dumps(misp.test_server({server_id(host, name)!r})))")
    assert answer["status"] == 1, answer
    assert answer["post"] == 1, answer


def test_sharing_group_spans_both_instances(a):
    sg = pymisp(a, f"print(json.dumps(misp.get_sharing_group({SG_UUID!r}, pythonify=False)))")
    orgs = {o["Organisation"]["uuid"] for o in sg["SharingGroupOrg"]}
    assert orgs == {ORG_A, ORG_B}
    servers = {s["Server"].get("url") or "local" for s in sg["SharingGroupServer"] if s.get("Server")}
    assert "https://sync-b" in servers
    assert any(s["server_id"] in ("0", 0) for s in sg["SharingGroupServer"])


# --- Events crossing ---


def test_event_reaches_b_by_push(a, b):
    event = new_event(a, f"sync test {RUN}: pushed from sync-a")
    cake_sync(a, "push", server_id(a, "CERT-B"))
    copy = event_on(b, event)
    assert copy is not None, "the pushed event is not on sync-b"
    assert copy["Event"]["Orgc"]["uuid"] == ORG_A


def test_event_reaches_b_by_pull_only(a, b):
    # Published at creation, no push started: only sync-b's pull brings it.
    event = new_event(a, f"sync test {RUN}: pulled by sync-b")
    assert event_on(b, event) is None, "the event reached sync-b before the pull"
    cake_sync(b, "pull", server_id(b, "CERT-A"))
    copy = event_on(b, event)
    assert copy is not None, "the pulled event is not on sync-b"
    assert copy["Event"]["Orgc"]["uuid"] == ORG_A


def test_event_in_a_sharing_group_reaches_only_its_instances(a, b):
    # A group of sync-a alone (created here), next to the role's group spanning both.
    local_sg = str(uuid.uuid5(uuid.NAMESPACE_URL, "misp-sync-test/sync-a-only"))
    pymisp(
        a,
        f"""
if not misp.sharing_group_exists({local_sg!r}):
    sg = pymisp.MISPSharingGroup()
    sg.uuid = {local_sg!r}
    sg.name = 'sync-a only'
    sg.releasability = 'CERT-A only'
    sg.roaming = False
    created = misp.add_sharing_group(sg, pythonify=True)
    assert not isinstance(created, dict), created
    misp.add_org_to_sharing_group(created, {ORG_A!r}, extend=True)
print(json.dumps(True))
""",
    )
    shared = new_event(a, f"sync test {RUN}: in sharing group A-B sync partners", distribution=4, sharing_group=SG_UUID)
    private = new_event(a, f"sync test {RUN}: in sharing group sync-a only", distribution=4, sharing_group=local_sg)
    cake_sync(a, "push", server_id(a, "CERT-B"))
    cake_sync(b, "pull", server_id(b, "CERT-A"))
    copy = event_on(b, shared)
    assert copy is not None, "the event of the group spanning both is not on sync-b"
    assert copy["Event"]["SharingGroup"]["uuid"] == SG_UUID
    assert event_on(b, private) is None, "the event of sync-a's own group reached sync-b"
    assert event_on(a, private) is not None
