"""The doctor against a real MISP: the reports side_effect.yml kept, and the repaired host itself."""

import json
import os
import subprocess
from pathlib import Path

import pytest

testinfra_hosts = ["doc-misp"]
REPORTS = Path(os.environ.get("MOLECULE_LOG_DIR") or "/tmp/misp-ansible-molecule") / "misp_doctor-reports"
SYNC = ("sync", "doc-self (https://doc-misp)")
# What the scenario breaks and the doctor may repair (all but the sync key).
BROKEN_AND_FIXABLE = (
    ("workers", "queue email"),
    ("workers", "queue default"),
    ("scheduled_tasks", "task pull_all"),
    ("time", "time sync service"),
    ("time", "synchronised"),
    ("mail", "Postfix"),
    ("mail", "mail queue"),
    ("mail", "MISP.disable_emailing"),
)


def report(step):
    path = REPORTS / step / "doc-misp.json"
    if not path.exists():
        pytest.fail(f"{path} missing: the side effect (side_effect.yml) did not write it")
    return json.loads(path.read_text())


def rows(data):
    return {(r["area"], r["check"]): r for r in data["rows"]}


def test_healthy_host_has_no_problem():
    data = report("1-healthy")
    assert data["healthy"], data["problems"]
    assert data["mode"] == "report"
    assert data["misp_version"].startswith("2.5")
    found = rows(data)
    assert found[SYNC]["status"] == "ok"
    areas = {r["area"] for r in data["rows"]}
    assert areas == {"sync", "workers", "scheduled_tasks", "time", "mail", "diagnostics"}


def test_broken_host_names_each_problem():
    data = report("2-broken")
    assert not data["healthy"]
    found = rows(data)
    problems = {key for key, r in found.items() if r["status"] == "problem"}
    assert {SYNC, *BROKEN_AND_FIXABLE} <= problems, sorted(problems)
    assert found[SYNC]["data"]["result"] == "authentication_failed"
    assert found[SYNC]["fix"].startswith("The organization with which you are synchronized has changed")
    assert found[SYNC]["action"] is None
    assert "email_00 (STOPPED)" in found[("workers", "queue email")]["detail"]
    assert "default_01 (STOPPED)" in found[("workers", "queue default")]["detail"]
    assert "not armed" in found[("scheduled_tasks", "task pull_all")]["detail"]
    assert "chrony is not running" in found[("time", "time sync service")]["detail"]
    assert "maildrop 1" in found[("mail", "mail queue")]["detail"]
    assert "MISP.disable_emailing = false" in found[("mail", "MISP.disable_emailing")]["fix"]


def test_fixing_run_repairs_all_but_the_sync_key_and_says_what_it_did():
    data = report("3-fixed")
    assert data["mode"] == "fix"
    found = rows(data)
    assert [r for r in data["rows"] if r["status"] == "problem"] == [found[SYNC]]
    for key in BROKEN_AND_FIXABLE:
        assert found[key]["status"] == "fixed", found[key]
        assert found[key]["done"], found[key]
    done = {f["action"]: f["done"] for f in data["fixes_applied"]}
    assert set(done) == {
        "restart_workers",
        "rearm_scheduled_tasks",
        "start_time_sync",
        "start_postfix",
        "flush_mail_queue",
        "enable_emailing",
    }
    assert "email_00" in done["restart_workers"] and "default_01" in done["restart_workers"]
    assert done["start_time_sync"].endswith("synchronised")
    assert data["before_fixing"]["summary"]["problem"] >= 9


def test_after_fixing_only_the_sync_key_remains_with_its_fix_text():
    data = report("4-after")
    assert data["problems"] == [f"sync: {SYNC[1]}: {rows(data)[SYNC]['detail']}"]
    sync = rows(data)[SYNC]
    assert sync["detail"].startswith("authentication failed")
    assert "request new ones and integrate them into your MISP instance" in sync["fix"]


def test_host_is_repaired(host):
    status = host.run("supervisorctl status 'misp-workers:*'")
    assert status.rc == 0, status.stdout
    assert host.service("chrony").is_running
    assert host.service("postfix").is_running
    assert host.run("chronyc waitsync 1").rc == 0
    cron = host.file("/etc/cron.d/misp-scheduled-tasks").content_string
    assert any(line.endswith("run pull_all") and not line.startswith("#") for line in cron.splitlines())
    assert "Mail queue is empty" in host.check_output("postqueue -p")
    config = host.check_output(
        'php -r \'$config = array(); require "/var/www/MISP/app/Config/config.php";'
        ' echo json_encode($config["MISP"]["disable_emailing"]);\''
    )
    assert json.loads(config) is False


def test_mail_queued_while_postfix_was_down_reached_the_relay():
    # doc-sink is the stand-in relay (prepare.yml); its log shows the local delivery of the message.
    log = subprocess.run(
        ["docker", "exec", "doc-sink", "cat", "/var/log/postfix.log"], capture_output=True, text=True, check=False
    )
    delivered = [
        line for line in log.stdout.splitlines() if "to=<doctor-queued@sink.test>" in line and "status=sent" in line
    ]
    assert delivered, log.stderr or "no delivery of doctor-queued@sink.test in doc-sink's log"
