"""Operations against a real MISP: live workers, the health check's repair, a MISP alert mail at the sink,
scheduled tasks run as cron runs them."""

import email
import email.policy
import json
import time
import uuid

import pytest
import testinfra
from misp_verify import misp_config, run_pymisp

testinfra_hosts = ["ops-misp"]
URL = "https://ops-misp"
QUEUES = {"default": 2, "prio": 2, "email": 2, "cache": 1, "update": 1}
TASK = "/usr/local/sbin/misp-scheduled-task"
REPORTS = "/var/tmp/ops-workers"
MAILDIR = "/var/mail/vhosts/sink.test/analyst"


@pytest.fixture(scope="module")
def sink():
    return testinfra.get_host("docker://ops-smtp-sink")


def pymisp(host, admin_key, code):
    """Run PyMISP, the independent client, on the MISP host against its public URL."""
    return run_pymisp(host, URL, code, admin_key)


def report(host, name):
    return json.loads(host.check_output(f"cat {REPORTS}/{name}"))


def sql(host, query):
    return host.check_output(f'mysql -N -B misp -e "{query}"')


# --- Workers ---


def test_every_queue_has_live_workers_in_misp(host, admin_key):
    # This PyMISP has no get_workers(): its generic REST call reaches the same endpoint.
    workers = pymisp(host, admin_key, "print(json.dumps(misp.direct_call('servers/getWorkers')))")
    assert workers["supervisord_status"] is True
    for queue, count in QUEUES.items():
        assert workers[queue]["ok"] is True, (queue, workers[queue])
        alive = [w for w in workers[queue]["workers"] if w["alive"] and w["correct_user"]]
        assert len(alive) == count, (queue, workers[queue])


def test_every_queue_has_live_workers_in_supervisor(host):
    status = host.run("supervisorctl status 'misp-workers:*'")
    assert status.rc == 0, status.stdout
    running = [line.split()[0].split(":")[1] for line in status.stdout.splitlines() if " RUNNING " in line]
    for queue, count in QUEUES.items():
        assert len([name for name in running if name.startswith(queue + "_")]) == count, status.stdout


def test_xmlrpc_listens_on_loopback_only(host):
    listeners = host.check_output("ss -Hltn 'sport = :9001'")
    assert "127.0.0.1:9001" in listeners
    assert "0.0.0.0:9001" not in listeners and "*:9001" not in listeners


def test_misp_saw_the_stopped_queue_before_the_repair(host):
    before = report(host, "misp-before.json")
    assert before["email"]["ok"] is False
    assert not [w for w in before["email"].get("workers", []) if w["alive"]]


def test_health_check_restarted_what_was_dead(host):
    health = report(host, "health.json")
    assert health["healthy"] is False
    assert sorted(health["restarted"]) == ["email_00", "email_01"]
    assert health["still_dead"] == []
    # supervisor itself restarted the killed default worker (autorestart): it has a new pid.
    killed = host.check_output(f"cat {REPORTS}/killed-pid").strip()
    assert host.check_output("supervisorctl pid misp-workers:default_00").strip() not in ("", killed, "0")


def test_misp_sees_every_queue_alive_after_the_repair(host):
    after = report(host, "misp-after.json")
    for queue, count in QUEUES.items():
        assert after[queue]["ok"] is True, (queue, after[queue])
        assert len([w for w in after[queue]["workers"] if w["alive"]]) == count


# --- Mail ---


def test_misp_mail_settings(host):
    config = misp_config(host)
    assert config["MISP"]["disable_emailing"] is False
    assert config["MISP"]["email"] == "misp@example.test"
    assert config["GnuPG"]["sign"] is True
    assert config["GnuPG"]["email"] == "misp@example.test"
    assert config["MISP"]["background_jobs"] is True
    assert config["SimpleBackgroundJobs"]["enabled"] is True


def test_publish_alert_reaches_the_sink(host, sink, admin_key):
    marker = f"ops-alert-{uuid.uuid4().hex[:12]}"
    alerted = sql(host, "SELECT autoalert FROM users WHERE email='analyst@sink.test'")
    assert alerted.strip() == "1"
    result = pymisp(
        host,
        admin_key,
        "event = pymisp.MISPEvent()\n"
        f"event.info = {marker!r}\n"
        "event.distribution = 0\n"
        "event.add_attribute('domain', 'alert-test.example.test')\n"
        "event = misp.add_event(event, pythonify=True)\n"
        "print(json.dumps({'id': event.id, 'publish': misp.publish(event, alert=True)}))",
    )
    assert "errors" not in result["publish"], result
    found = ""
    for _ in range(60):
        found = sink.run(f"grep -l -r {marker} {MAILDIR}/new").stdout.strip()
        if found:
            break
        time.sleep(3)
    assert found, "no alert mail at the sink; misp queue: " + host.run("postqueue -p").stdout
    message = email.message_from_string(sink.check_output(f"cat {found.splitlines()[0]}"), policy=email.policy.default)
    assert message["To"] == "analyst@sink.test"
    assert "misp@example.test" in message["From"]
    assert message["Subject"].startswith("[CERT-Ops MISP] Event ")
    assert f"Event {result['id']} - " in message["Subject"]
    # Signed with the GnuPG key misp_mail generated.
    assert message.get_content_type() == "multipart/signed"
    assert "application/pgp-signature" in message["Content-Type"]
    received = " ".join(message.get_all("Received"))
    # Relayed by misp's Postfix over STARTTLS with the SASL login.
    assert "Authenticated sender: misp-relay" in received
    assert "using TLS" in received
    print("Delivered mail headers:", {k: message[k] for k in ("From", "To", "Subject", "Content-Type")})


# --- Scheduled tasks ---


def test_tasks_file_and_cron_file(host):
    tasks = {t["name"]: t for t in json.loads(host.check_output("cat /etc/misp-scheduled-tasks.json"))}
    assert tasks["pull_all"]["command"] == "/var/www/MISP/app/Console/cake Server pullAll 1 full"
    assert tasks["cache_feeds"]["command"] == "/var/www/MISP/app/Console/cake Server cacheFeed 1 misp"
    assert tasks["update_json"]["enabled"] is False
    cron = host.file("/etc/cron.d/misp-scheduled-tasks")
    assert cron.user == "root" and cron.mode == 0o644
    lines = [line for line in cron.content_string.splitlines() if " run " in line and not line.startswith("#")]
    assert lines == [
        "0 1 * * * www-data /usr/local/sbin/misp-scheduled-task run pull_all",
        "30 2 * * * www-data /usr/local/sbin/misp-scheduled-task run fetch_feeds",
        "20 2 * * 1-5 www-data /usr/local/sbin/misp-scheduled-task run cache_feeds",
        "30 3 */2 * * www-data /usr/local/sbin/misp-scheduled-task run update_noticelists",
    ]
    assert host.service("cron").is_running


def test_fetch_feeds_runs_as_cron_runs_it(host):
    before = int(sql(host, "SELECT COALESCE(MAX(id), 0) FROM jobs WHERE job_type='fetch_feeds'"))
    run = host.run(f"runuser -u www-data -- {TASK} run fetch_feeds")
    assert run.rc == 0, run.stdout + run.stderr
    state = json.loads(host.check_output("cat /var/lib/misp-scheduled-tasks/fetch_feeds.json"))
    assert state["rc"] == 0 and state["finished"] >= state["started"]
    assert "Job done." in state["output_tail"]
    # MISP recorded the fetch as a job of its own.
    job = sql(host, f"SELECT message FROM jobs WHERE job_type='fetch_feeds' AND id > {before}")
    assert "Job done." in job


def test_json_libraries_loaded_in_the_background_are_complete(host):
    # The converge leaves updateJSON running during the operations plays and waits in the play
    # after them (as site.yml does): every library is in the database, and no updateJSON still runs.
    for table in ("taxonomies", "galaxies", "warninglists", "noticelists", "object_templates"):
        assert int(sql(host, f"SELECT COUNT(*) FROM {table}")) > 0, f"{table} is empty"
    assert host.run("pgrep -f '[c]ake.* Admin updateJSON'").rc == 1


def test_update_noticelists_restores_a_removed_list(host):
    count = int(sql(host, "SELECT COUNT(*) FROM noticelists"))
    assert count > 0
    sql(host, "DELETE FROM noticelists WHERE id = (SELECT id FROM (SELECT MAX(id) AS id FROM noticelists) AS last)")
    assert int(sql(host, "SELECT COUNT(*) FROM noticelists")) == count - 1
    run = host.run(f"{TASK} run update_noticelists")  # as root: the wrapper drops to www-data itself
    assert run.rc == 0, run.stdout + run.stderr
    state = json.loads(host.check_output("cat /var/lib/misp-scheduled-tasks/update_noticelists.json"))
    assert state["rc"] == 0 and "Notice lists updated" in state["output_tail"]
    assert int(sql(host, "SELECT COUNT(*) FROM noticelists")) == count
    assert host.file("/var/lib/misp-scheduled-tasks/update_noticelists.json").user == "www-data"


def test_overlapping_run_is_skipped(host):
    lock = "/run/lock/misp-task-pull_all.lock"
    host.check_output(f"runuser -u www-data -- sh -c 'flock {lock} sleep 8 >/dev/null 2>&1 &'")
    time.sleep(1)
    run = host.run(f"runuser -u www-data -- {TASK} run pull_all")
    assert run.rc == 0
    assert "still running" in run.stdout


def test_status_shows_the_next_runs(host):
    time.sleep(8)  # the overlap test's lock is gone
    status = host.run(f"{TASK} status --json")
    assert status.rc == 0, status.stdout + status.stderr
    rows = {row["name"]: row for row in json.loads(status.stdout)}
    now = host.check_output("date +%s")
    for name in ("pull_all", "fetch_feeds", "cache_feeds", "update_noticelists"):
        assert rows[name]["enabled"] and rows[name]["armed"], rows[name]
        next_run = host.check_output(f"date -d '{rows[name]['next_run']}' +%s")
        assert int(next_run) > int(now)
    assert rows["update_json"]["enabled"] is False and rows["update_json"]["armed"] is False
    assert rows["update_json"]["next_run"] is None
    assert rows["fetch_feeds"]["last_rc"] == 0
    table = host.check_output(f"{TASK} status")
    assert table.splitlines()[0].split()[:4] == ["TASK", "SCHEDULE", "ENABLED", "ARMED"]
