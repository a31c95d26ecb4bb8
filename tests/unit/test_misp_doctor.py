"""Unit tests of the doctor's checks, parsers, merge and report (plugins/module_utils/misp_doctor.py)."""

from __future__ import annotations

import json

from ansible_collections.mispops.misp.plugins.module_utils import misp_doctor as doc
from ansible_collections.mispops.misp.plugins.module_utils.misp_sync import classify_connection_test

NOW = 1_796_300_000.0  # 2026-12-03T...


def statuses(rows):
    return {r["check"]: r["status"] for r in rows}


# -- parsers ----------------------------------------------------------------------------
def test_parse_supervisor_status_keeps_the_group_only():
    text = (
        "misp-workers:cache_00             RUNNING   pid 101, uptime 0:10:00\n"
        "misp-workers:email_00             STOPPED   Dec 03 06:40 PM\n"
        "misp-workers:prio_00              FATAL     Exited too quickly (process log may have details)\n"
        "other:thing                       RUNNING   pid 5, uptime 1:00:00\n"
    )
    assert doc.parse_supervisor_status(text) == {"cache_00": "RUNNING", "email_00": "STOPPED", "prio_00": "FATAL"}


def test_parse_chronyc_tracking_synchronised_and_local():
    synced = (
        "AC120002,doc-sink,9,1796300000.1,0.000001234,-0.000002000,0.000003,1.2,0.0,0.01,0.0001,0.0002,64.0,Normal\n"
    )
    t = doc.parse_chronyc_tracking(synced)
    assert t["synchronised"] is True
    assert t["ref_name"] == "doc-sink"
    assert abs(t["system_offset"] - 0.000001234) < 1e-12
    local = "7F7F0101,,10,1796300000.1,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,Normal\n"
    assert doc.parse_chronyc_tracking(local)["synchronised"] is False
    none = "00000000,,0,0.0,0.0,0.0,0.0,0.0,0.0,0.0,1.0,1.0,0.0,Not synchronised\n"
    assert doc.parse_chronyc_tracking(none)["synchronised"] is False
    assert doc.parse_chronyc_tracking("") is None


def test_parse_chronyc_sources():
    text = "^,*,doc-sink,8,6,377,12,0.000001,0.000001,0.000120\n^,?,ntp.bad,0,6,0,-,0.0,0.0,0.0\n"
    sources = doc.parse_chronyc_sources(text)
    assert [s["name"] for s in sources] == ["doc-sink", "ntp.bad"]
    assert sources[0]["selected"] and sources[0]["reach"] == 377
    assert not sources[1]["selected"] and sources[1]["reach"] == 0


def test_parse_relayhost_forms():
    assert doc.parse_relayhost("[smtp.example.org]:587") == ("smtp.example.org", 587)
    assert doc.parse_relayhost("[doc-sink]") == ("doc-sink", 25)
    assert doc.parse_relayhost("relay.example.org:2525") == ("relay.example.org", 2525)
    assert doc.parse_relayhost("") is None


def test_parse_config_lint():
    text = "MISP.baseurl: Value not a valid URL.\nSecurity.salt: too short\nnot a finding\n"
    assert doc.parse_config_lint(text) == [
        {"setting": "MISP.baseurl", "message": "Value not a valid URL."},
        {"setting": "Security.salt", "message": "too short"},
    ]


def test_parse_scheduled_tasks_accepts_variants():
    data = {"tasks": [{"name": "pull_all", "schedule": "0 1 * * *", "enabled": True, "armed": True, "rc": 0}]}
    assert doc.parse_scheduled_tasks(json.dumps(data))[0]["last_rc"] == 0
    by_name = {"fetch": {"schedule": "* * * * *", "enabled": "false", "last": {"rc": 2, "started": "2026-12-03"}}}
    task = doc.parse_scheduled_tasks(by_name)[0]
    assert task["name"] == "fetch" and task["enabled"] is False
    assert task["last_rc"] == 2 and task["last_started"] == "2026-12-03"


def test_parse_time_forms():
    assert doc.parse_time("2026-12-03T00:00:00Z") == doc.parse_time("2026-12-03 00:00:00")
    assert doc.parse_time(1000) == 1000.0
    assert doc.parse_time("1000") == 1000.0
    assert doc.parse_time(None) is None
    assert doc.parse_time("garbage") is None
    assert doc.iso(0) == "1970-01-01T00:00:00Z"


# -- sync -------------------------------------------------------------------------------
def test_check_sync_names_each_cause_with_its_fix():
    links = [
        {"name": "ok", "url": "https://a", "connection": classify_connection_test({"status": 1, "version": "2.5.1"})},
        {"name": "auth", "url": "https://b", "connection": classify_connection_test({"status": 4})},
        {"name": "net", "url": "https://c", "connection": classify_connection_test({"status": 2})},
        {"name": "role", "url": "https://d", "connection": classify_connection_test({"status": 7, "info": {}})},
    ]
    rows = doc.check_sync(links)
    assert [r["status"] for r in rows] == ["ok", "problem", "problem", "problem"]
    assert rows[1]["detail"].startswith("authentication failed")
    assert "Authkey" in rows[1]["fix"]
    assert rows[2]["detail"].startswith("destination not reachable")
    assert "firewall" in rows[2]["fix"]
    assert rows[3]["detail"].startswith("remote user not a sync user")
    assert all(r["action"] is None for r in rows)  # never touches sync keys


def test_check_sync_without_links_is_information():
    assert doc.check_sync([])[0]["status"] == "info"


# -- workers ----------------------------------------------------------------------------
MISP_WORKERS = {
    "default": {"ok": True, "workers": [{"pid": 1, "alive": True, "correct_user": True}], "jobCount": 0},
    "email": {"ok": False, "jobCount": 3},
    "proc_accessible": True,
    "controls": True,
    "supervisord_status": True,
}


def test_check_workers_stopped_queue_is_a_fixable_problem():
    rows = doc.check_workers(MISP_WORKERS, {"default_00": "RUNNING", "email_00": "STOPPED"})
    by = {r["check"]: r for r in rows}
    assert by["queue default"]["status"] == "ok"
    assert by["queue email"]["status"] == "problem"
    assert "no live worker" in by["queue email"]["detail"]
    assert "email_00 (STOPPED)" in by["queue email"]["detail"]
    assert by["queue email"]["action"] == "restart_workers"


def test_check_workers_dead_process_in_a_live_queue_is_a_problem():
    workers = dict(MISP_WORKERS, email={"ok": True, "workers": [{"pid": 2, "alive": True}], "jobCount": 0})
    rows = doc.check_workers(workers, {"default_00": "RUNNING", "email_00": "RUNNING", "email_01": "FATAL"})
    assert statuses(rows)["queue email"] == "problem"


def test_check_workers_supervisor_down_and_jobs_off():
    rows = doc.check_workers(dict(MISP_WORKERS, supervisord_status=False), {})
    assert statuses(rows)["supervisor"] == "problem"
    off = doc.check_workers(["Background jobs not enabled"])
    assert off[0]["status"] == "problem" and "background_jobs" in off[0]["detail"]
    assert doc.check_workers(None)[0]["status"] == "problem"


# -- scheduled tasks --------------------------------------------------------------------
def task(**kw):
    base = {"name": "pull_all", "schedule": "0 1 * * *", "enabled": True, "armed": True, "last_rc": None}
    base.update(kw)
    return base


def test_check_scheduled_tasks_states():
    rows = doc.check_scheduled_tasks(
        [
            task(name="ok", next_run=NOW + 3600, last_started=NOW - 60, last_finished=NOW - 30, last_rc=0),
            task(name="unarmed", armed=False, next_run=None),
            task(name="past", next_run=NOW - 10),
            task(name="failed", next_run=NOW + 60, last_started=NOW - 60, last_finished=NOW - 50, last_rc=1),
            task(name="off", enabled=False),
        ],
        NOW,
    )
    by = {r["check"]: r for r in rows}
    assert by["task ok"]["status"] == "ok"
    assert by["task unarmed"]["status"] == "problem" and by["task unarmed"]["action"] == "rearm_scheduled_tasks"
    assert by["task past"]["status"] == "problem" and "not in the future" in by["task past"]["detail"]
    assert by["task failed"]["status"] == "problem" and by["task failed"]["action"] is None
    assert "exit code 1" in by["task failed"]["detail"]
    assert by["task off"]["status"] == "warn"


def test_check_scheduled_tasks_none_defined():
    assert doc.check_scheduled_tasks([], NOW, tool_found=False)[0]["status"] == "problem"
    assert doc.check_scheduled_tasks([], NOW, tool_found=False, required=False)[0]["status"] == "info"


# -- time -------------------------------------------------------------------------------
SYNCED = {
    "implementation": "chrony",
    "service": "chrony",
    "active": True,
    "tracking": {
        "ref_id": "AC120002",
        "ref_name": "doc-sink",
        "stratum": 9,
        "system_offset": 0.0001,
        "last_offset": -0.0002,
        "synchronised": True,
    },
    "sources": [{"name": "doc-sink", "state": "*", "selected": True, "reach": 377}],
    "http_date_skew": 0.3,
    "timezone": "Etc/UTC",
}


def test_check_time_healthy():
    rows = doc.check_time(SYNCED)
    assert set(statuses(rows).values()) == {"ok"}


def test_check_time_chrony_stopped():
    facts = dict(SYNCED, active=False, tracking=None, sources=[])
    rows = doc.check_time(facts)
    by = {r["check"]: r for r in rows}
    assert by["time sync service"]["status"] == "problem"
    assert by["time sync service"]["action"] == "start_time_sync"
    assert by["synchronised"]["status"] == "problem"
    assert "timedatectl" in by["synchronised"]["fix"]


def test_check_time_offset_and_http_skew():
    facts = dict(SYNCED, tracking=dict(SYNCED["tracking"], system_offset=2.5), http_date_skew=-9.0)
    by = {r["check"]: r for r in doc.check_time(facts)}
    assert by["offset from NTP"]["status"] == "problem" and by["offset from NTP"]["action"] == "resync_time"
    assert by["MISP clock (HTTP Date)"]["status"] == "problem"


def test_check_time_unsynchronised_local_clock_and_timesyncd():
    local = dict(SYNCED, tracking=dict(SYNCED["tracking"], synchronised=False, local_reference=True))
    assert statuses(doc.check_time(local))["synchronised"] == "problem"
    timesyncd = {
        "implementation": "systemd-timesyncd",
        "active": True,
        "timedatectl": {"NTP": "yes", "NTPSynchronized": "no"},
        "http_date_skew": 0.0,
    }
    assert statuses(doc.check_time(timesyncd))["synchronised"] == "problem"
    assert statuses(doc.check_time({"implementation": None}))["time sync service"] == "problem"


def test_check_time_php_zone_differs_is_a_warning():
    rows = doc.check_time(dict(SYNCED, timezone="Europe/Rome", php_timezone="UTC"))
    assert statuses(rows)["MISP clock (HTTP Date)"] == "warn"
    assert (
        statuses(doc.check_time(dict(SYNCED, timezone="Etc/UTC", php_timezone="UTC")))["MISP clock (HTTP Date)"] == "ok"
    )


# -- mail -------------------------------------------------------------------------------
MAIL_OK = {
    "postfix_installed": True,
    "postfix_active": True,
    "queue": {"maildrop": 0, "incoming": 0, "active": 0, "deferred": 0, "hold": 0},
    "relay": {"host": "doc-sink", "port": 25, "reachable": True},
    "disable_emailing": False,
    "alert_users": ["admin@admin.test"],
    "gpg_sign": False,
}


def test_check_mail_healthy():
    assert set(statuses(doc.check_mail(MAIL_OK)).values()) == {"ok"}


def test_check_mail_broken():
    facts = dict(
        MAIL_OK,
        postfix_active=False,
        queue=dict(MAIL_OK["queue"], maildrop=2),
        relay={"host": "doc-sink", "port": 25, "reachable": False, "error": "refused"},
        disable_emailing=True,
        alert_users=[],
        gpg_sign=True,
        gpg_status=3,
        gpg_status_text="key or passphrase problem",
    )
    by = {r["check"]: r for r in doc.check_mail(facts)}
    assert by["Postfix"]["action"] == "start_postfix"
    assert by["mail queue"]["status"] == "problem" and by["mail queue"]["action"] == "flush_mail_queue"
    assert by["relay"]["status"] == "problem" and by["relay"]["action"] is None
    assert by["MISP.disable_emailing"]["action"] == "enable_emailing"
    assert "disable_emailing = false" in by["MISP.disable_emailing"]["fix"]
    assert by["publish alerts"]["status"] == "warn"
    assert by["GnuPG signing"]["status"] == "problem"


def test_check_mail_emailing_off_on_purpose_and_direct_delivery():
    rows = doc.check_mail(dict(MAIL_OK, disable_emailing=True, relay=None), expect_emailing=False)
    by = statuses(rows)
    assert by["MISP.disable_emailing"] == "info"
    assert by["relay"] == "info"
    assert doc.check_mail(dict(MAIL_OK, postfix_installed=False))[0]["status"] == "problem"


# -- diagnostics ------------------------------------------------------------------------
def test_check_diagnostics():
    facts = {
        "config_lint": [
            {"setting": "Security.salt", "message": "too short", "level": 0},
            {"setting": "MISP.x", "message": "meh", "level": 1},
        ],
        "db_schema": {"actual_db_version": "126", "expected_db_version": "126", "issues": 0, "critical_issues": 0},
        "updates": {"complete_update_remaining": "0"},
        "redis": {"ok": True, "detail": "Redis 7.0.15"},
        "background_jobs_status": "OK",
        "php_settings": [{"name": "memory_limit", "value": 512, "recommended": 2048, "ok": False}],
        "unwritable": [],
    }
    by = statuses(doc.check_diagnostics(facts))
    assert by["configLint critical"] == "problem"
    assert by["configLint recommended"] == "warn"
    assert by["database schema"] == "ok"
    assert by["Redis"] == "ok"
    assert by["PHP settings"] == "warn"
    assert by["file permissions"] == "ok"
    bad = dict(
        facts,
        config_lint=[],
        db_schema={"actual_db_version": "120", "expected_db_version": "126", "critical_issues": 1},
        updates={"complete_update_remaining": 3},
        redis={"ok": False, "detail": "Error connecting to Redis."},
        background_jobs_status="Error connecting to Redis.",
        unwritable=["/var/www/MISP/app/files/"],
    )
    by = statuses(doc.check_diagnostics(bad, php_settings_level="problem"))
    assert by["configLint"] == "ok"
    assert by["database schema"] == "problem"
    assert by["Redis"] == "problem"
    assert by["background jobs"] == "problem"
    assert by["PHP settings"] == "problem"
    assert by["file permissions"] == "problem"


# -- merge, report, table ---------------------------------------------------------------
def test_needed_actions_and_merge_fixed():
    before = [
        doc.row("workers", "queue email", "problem", "no live worker", action="restart_workers"),
        doc.row("sync", "self (https://x)", "problem", "authentication failed: 403", fix="new key"),
        doc.row("mail", "Postfix", "problem", "not running", action="start_postfix"),
        doc.row("time", "synchronised", "ok", "fine"),
    ]
    assert doc.needed_actions(before) == ["restart_workers", "start_postfix"]
    after = [
        doc.row("workers", "queue email", "ok", "1 live"),
        doc.row("sync", "self (https://x)", "problem", "authentication failed: 403", fix="new key"),
        doc.row("mail", "Postfix", "problem", "not running", action="start_postfix"),
        doc.row("time", "synchronised", "ok", "fine"),
    ]
    merged = doc.merge_fixed(before, after, {"restart_workers": "started email_00", "start_postfix": "started"})
    by = {r["check"]: r for r in merged}
    assert by["queue email"]["status"] == "fixed" and by["queue email"]["done"] == "started email_00"
    assert by["queue email"]["was"] == "no live worker"
    assert by["self (https://x)"]["status"] == "problem" and by["self (https://x)"]["done"] is None
    assert by["Postfix"]["status"] == "problem" and by["Postfix"]["done"] == "tried: started"
    assert by["synchronised"]["status"] == "ok"


def test_report_and_table():
    rows = [
        doc.row("sync", "self (https://doc-misp)", "problem", "authentication failed: x", fix="new key, " * 20),
        doc.row("workers", "queue email", "fixed", "1 live"),
        doc.row("workers", "queue default", "ok", "2 live"),
    ]
    rows[1]["done"], rows[1]["was"] = "started email_00", "no live worker"
    report = doc.build_report("doc-misp", rows, NOW, "fix", misp_version="2.5.1", done={"restart_workers": "x"})
    assert report["healthy"] is False
    assert report["summary"]["problem"] == 1 and report["summary"]["fixed"] == 1
    assert report["problems"] == ["sync: self (https://doc-misp): authentication failed: x"]
    assert report["fixes_applied"][0]["action"] == "restart_workers"
    json.dumps(report)  # serialisable
    table = doc.render_table(report, width=100)
    lines = table.splitlines()
    assert lines[0].startswith("MISP doctor: doc-misp (MISP 2.5.1)")
    assert all(len(line) <= 100 for line in lines[1:-2])
    assert "PROBLEM" in table and "FIXED" in table and "Fix: new key" in table
    assert "was: no live worker; done: started email_00" in table.replace("\n", " ").replace("  ", " ")
    assert lines[-1] == "Result: 1 problem(s) remain"
    healthy = doc.build_report("h", rows[2:], NOW, "report")
    assert doc.render_table(healthy).splitlines()[-1] == "Result: healthy"


def test_check_time_reselecting_source_with_small_offset_is_a_warning():
    tracking = dict(SYNCED["tracking"], ref_id="00000000", synchronised=False)
    sources = [{"name": "doc-sink", "state": "?", "selected": False, "reach": 377, "offset": 0.0000037}]
    by = {r["check"]: r for r in doc.check_time(dict(SYNCED, tracking=tracking, sources=sources))}
    assert by["synchronised"]["status"] == "warn"
    assert by["synchronised"]["action"] == "resync_time"
    far = [dict(sources[0], offset=3.0)]
    by = {r["check"]: r for r in doc.check_time(dict(SYNCED, tracking=tracking, sources=far))}
    assert by["synchronised"]["status"] == "problem"
