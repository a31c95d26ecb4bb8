"""Unit tests for mispops.misp.misp_doctor_check: gathering with a fake MISP and a fake host."""

from __future__ import annotations

import json

from ansible_collections.mispops.misp.plugins.modules.misp_doctor_check import ARGUMENT_SPEC, Doctor
from fake_misp import FakeMisp, FakeModule, run_manager

BASE = {"misp_url": "https://misp.test", "misp_api_key": "K" * 40, "host_name": "doc-misp"}
NOW = 1_796_300_000.0
DATE = "Thu, 03 Dec 2026 12:13:20 GMT"  # == NOW

WORKERS = {
    "default": {"ok": True, "workers": [{"pid": 1, "alive": True, "correct_user": True}], "jobCount": 0},
    "email": {"ok": True, "workers": [{"pid": 2, "alive": True, "correct_user": True}], "jobCount": 0},
    "proc_accessible": True,
    "controls": True,
    "supervisord_status": True,
}
DIAG = {
    "gpgStatus": "FAIL: settings not set",
    "backgroundJobsStatus": "OK",
    "redisInfo": {"connection": True, "redis_version": "7.0.15", "used_memory_human": "1.2M"},
    "phpSettings": {
        "memory_limit": {"value": 2048, "recommended": 2048, "unit": "M"},
        "max_execution_time": {"value": 300, "recommended": 300, "unit": "s"},
    },
    "writeableDirs": {"/var/www/MISP/app/tmp/": 0},
    "writeableFiles": {"/var/www/MISP/app/Config/config.php": 0, "/var/www/MISP/.git/ORIG_HEAD": 1},
    "readableFiles": {},
    "finalSettings": [
        {"setting": "MISP.disable_emailing", "level": 0, "value": False},
        {"setting": "GnuPG.sign", "level": 1, "value": False},
        {"setting": "MISP.welcome_text_top", "level": 2, "value": "", "error": 1, "errorMessage": "x"},
        {"setting": "Security.salt", "level": 0, "value": "*****"},
    ],
}
SCHEMA = {"actual_db_version": "126", "expected_db_version": "126", "diagnostic": {}, "error": ""}
USERS = [
    {"User": {"id": "1", "email": "admin@admin.test", "autoalert": True, "disabled": False}},
    {"User": {"id": "2", "email": "sync@x.test", "autoalert": False, "disabled": False}},
    {"User": {"id": "3", "email": "gone@x.test", "autoalert": True, "disabled": True}},
]
SERVERS = [{"Server": {"id": "1", "name": "doc-self", "url": "https://doc-misp", "pull": False, "push": False}}]
TASKS = [
    {
        "name": "pull_all",
        "schedule": "0 1 * * *",
        "enabled": True,
        "armed": True,
        "cron_schedule": "0 1 * * *",
        "running": False,
        "last_started": None,
        "last_finished": None,
        "last_rc": None,
        "next_run": "2026-12-04T01:00:00+00:00",
    }
]
TRACKING = "AC120002,doc-sink,9,1796300000.1,0.000001,-0.000002,0.000003,1.2,0.0,0.01,0.0001,0.0002,64.0,Normal\n"
SOURCES = "^,*,doc-sink,8,6,377,12,0.000001,0.000001,0.000120\n"
SUPERVISOR = (
    "misp-workers:default_00   RUNNING   pid 10, uptime 1:00:00\n"
    "misp-workers:email_00     RUNNING   pid 11, uptime 1:00:00\n"
)


def fake_misp(conn_status=1):
    fake = FakeMisp()
    fake.route("GET", "/servers/getVersion", {"version": "2.5.1"}, headers={"Date": DATE})
    fake.route("GET", "/servers/index", SERVERS)
    fake.route("POST", "/servers/testConnection/1", {"status": conn_status, "version": "2.5.1", "post": 1})
    fake.route("GET", "/servers/getWorkers", WORKERS)
    fake.route("GET", "/servers/serverSettings", DIAG)
    fake.route("GET", "/servers/dbSchemaDiagnostic", SCHEMA)
    fake.route("GET", "/servers/updateProgress", {"complete_update_remaining": 0, "update_locked": False})
    fake.route("GET", "/admin/users/index", USERS)
    return fake


class FakeHost:
    def __init__(self, commands=None, files=None, queue=None, relay_ok=True):
        self.commands = {
            ("supervisorctl", "status"): (0, SUPERVISOR, ""),
            ("/usr/local/sbin/misp-scheduled-task", "status", "--json"): (0, json.dumps(TASKS), ""),
            ("systemctl", "is-active", "chrony"): (0, "active\n", ""),
            ("chronyc", "-c", "tracking"): (0, TRACKING, ""),
            ("chronyc", "-c", "sources"): (0, SOURCES, ""),
            ("timedatectl", "show", "-p", "Timezone", "--value"): (0, "Etc/UTC\n", ""),
            ("systemctl", "is-active", "postfix"): (0, "active\n", ""),
            ("postconf", "-h", "queue_directory"): (0, "/var/spool/postfix\n", ""),
            ("postconf", "-h", "relayhost"): (0, "[doc-sink]:25\n", ""),
            ("runuser", "-u", "www-data", "--", "/var/www/MISP/app/Console/cake", "Admin", "configLint"): (0, "", ""),
        }
        self.commands.update(commands or {})
        self.files = (
            files
            if files is not None
            else {"/usr/local/sbin/misp-scheduled-task", "/lib/systemd/system/chrony.service"}
        )
        self.queue = queue or {}
        self.relay_ok = relay_ok
        self.ran = []

    def run(self, argv):
        self.ran.append(tuple(argv))
        return self.commands.get(tuple(argv), (4, "", "unknown command"))

    def which(self, name):
        return None if name in self.commands.get(("which",), (0, "", ""))[1].split() else f"/usr/bin/{name}"

    def exists(self, path):
        return path in self.files

    def count_files(self, path):
        return self.queue.get(path.rsplit("/", 1)[-1], 0)

    def tcp(self, host, port, timeout=5):
        return (True, None) if self.relay_ok else (False, "[Errno 111] Connection refused")

    def now(self):
        return NOW


def run(fake, host, **params):
    class TestDoctor(Doctor):
        def __init__(self, module, client):
            super().__init__(module, client, host=host)

    return run_manager(TestDoctor, {**BASE, **params}, fake, spec=ARGUMENT_SPEC)


def by_check(result):
    return {(r["area"], r["check"]): r for r in result["rows"]}


def test_healthy_host_has_no_problem_and_writes_nothing():
    fake, host = fake_misp(), FakeHost()
    result = run(fake, host)
    assert result["changed"] is False
    assert result["healthy"] is True, result["report"]["problems"]
    assert result["actions"] == []
    rows = by_check(result)
    assert rows[("sync", "doc-self (https://doc-misp)")]["status"] == "ok"
    assert rows[("mail", "publish alerts")]["detail"].endswith("admin@admin.test")
    assert rows[("time", "MISP clock (HTTP Date)")]["status"] == "ok"
    assert rows[("diagnostics", "configLint")]["status"] == "ok"
    # Only the connection test is a POST, and it changes nothing.
    assert [c[1] for c in fake.writes()] == ["/servers/testConnection/1"]
    # cake never runs as root
    assert all(cmd[:3] == ("runuser", "-u", "www-data") for cmd in host.ran if "cake" in " ".join(cmd))
    assert "K" * 40 not in json.dumps(result)
    assert result["report"]["misp_version"] == "2.5.1"
    assert result["table"].splitlines()[-1] == "Result: healthy"


def test_broken_host_names_every_problem():
    fake = fake_misp(conn_status=4)
    fake.route("GET", "/servers/getWorkers", dict(WORKERS, email={"ok": False, "jobCount": 2}))
    fake.route(
        "GET",
        "/servers/serverSettings",
        dict(DIAG, finalSettings=[{"setting": "MISP.disable_emailing", "level": 0, "value": True}]),
    )
    tasks = [dict(TASKS[0], armed=False, cron_schedule=None, next_run=None)]
    host = FakeHost(
        commands={
            ("supervisorctl", "status"): (3, SUPERVISOR.replace("email_00     RUNNING", "email_00     STOPPED"), ""),
            ("/usr/local/sbin/misp-scheduled-task", "status", "--json"): (1, json.dumps(tasks), ""),
            ("systemctl", "is-active", "chrony"): (3, "inactive\n", ""),
            ("chronyc", "-c", "tracking"): (1, "", "506 Cannot talk to daemon"),
            ("chronyc", "-c", "sources"): (1, "", "506 Cannot talk to daemon"),
            ("systemctl", "is-active", "postfix"): (3, "inactive\n", ""),
        },
        queue={"maildrop": 1},
    )
    result = run(fake, host)
    assert result["healthy"] is False
    rows = by_check(result)
    assert rows[("sync", "doc-self (https://doc-misp)")]["detail"].startswith("authentication failed")
    assert "Authkey" in rows[("sync", "doc-self (https://doc-misp)")]["fix"]
    assert rows[("workers", "queue email")]["status"] == "problem"
    assert rows[("scheduled_tasks", "task pull_all")]["action"] == "rearm_scheduled_tasks"
    assert rows[("time", "time sync service")]["action"] == "start_time_sync"
    assert rows[("mail", "Postfix")]["action"] == "start_postfix"
    assert rows[("mail", "mail queue")]["action"] == "flush_mail_queue"
    assert rows[("mail", "MISP.disable_emailing")]["action"] == "enable_emailing"
    assert result["actions"] == [
        "restart_workers",
        "rearm_scheduled_tasks",
        "start_time_sync",
        "start_postfix",
        "flush_mail_queue",
        "enable_emailing",
    ]


def test_previous_rows_become_fixed():
    fake = fake_misp(conn_status=4)
    before = run(fake, FakeHost(commands={("systemctl", "is-active", "postfix"): (3, "inactive\n", "")}))
    assert before["actions"] == ["start_postfix"]
    after = run(fake, FakeHost(), previous=before["rows"], done={"start_postfix": "started Postfix"}, mode="fix")
    rows = by_check(after)
    assert rows[("mail", "Postfix")]["status"] == "fixed"
    assert rows[("mail", "Postfix")]["done"] == "started Postfix"
    assert rows[("sync", "doc-self (https://doc-misp)")]["status"] == "problem"
    assert after["report"]["before_fixing"]["summary"]["problem"] == 2
    assert after["report"]["fixes_applied"] == [
        {"action": "start_postfix", "what": "start Postfix", "done": "started Postfix"}
    ]


def test_unreachable_relay_missing_tool_and_api_down():
    fake = fake_misp()
    result = run(fake, FakeHost(files=set(), relay_ok=False), areas=["mail", "scheduled_tasks"])
    rows = by_check(result)
    assert rows[("mail", "relay")]["status"] == "problem"
    assert "refused" in rows[("mail", "relay")]["detail"]
    assert rows[("scheduled_tasks", "scheduled tasks")]["status"] == "problem"
    assert {r["area"] for r in result["rows"]} == {"mail", "scheduled_tasks"}

    down = FakeMisp()  # every route 404
    result = run(down, FakeHost(), areas=["time"])
    assert by_check(result)[("diagnostics", "MISP API")]["status"] == "problem"


def test_module_without_commands_uses_fake_module():
    # The default Host wraps the module's run_command / get_bin_path.
    module = FakeModule({**BASE}, spec=ARGUMENT_SPEC, run_command=lambda argv: (0, "", ""))
    doctor = Doctor(module, fake_misp().client())
    assert doctor.host.run(["true"]) == (0, "", "")
    assert doctor.host.which("chronyc") == "/usr/bin/chronyc"


def test_unwritable_directory_and_gpg_failure_with_signing_on():
    fake = fake_misp()
    diag = dict(DIAG, writeableDirs={"/var/www/MISP/app/files": 2})
    diag["finalSettings"] = [*DIAG["finalSettings"][:1], {"setting": "GnuPG.sign", "level": 1, "value": True}]
    fake.route("GET", "/servers/serverSettings", diag)
    rows = by_check(run(fake, FakeHost(), areas=["mail", "diagnostics"]))
    assert rows[("diagnostics", "file permissions")]["status"] == "problem"
    assert "/var/www/MISP/app/files" in rows[("diagnostics", "file permissions")]["detail"]
    assert rows[("mail", "GnuPG signing")]["status"] == "problem"
    assert "settings not set" in rows[("mail", "GnuPG signing")]["detail"]


def test_without_the_diagnostic_dump():
    fake = fake_misp()
    fake.route("GET", "/servers/getSetting/MISP.disable_emailing", {"value": True})
    fake.route("GET", "/servers/getSetting/GnuPG.sign", {"value": False})
    result = run(fake, FakeHost(), areas=["mail", "diagnostics"], full_diagnostics=False)
    assert "/servers/serverSettings" not in [c[1] for c in fake.calls]
    rows = by_check(result)
    assert rows[("mail", "MISP.disable_emailing")]["status"] == "problem"
    assert ("diagnostics", "Redis") not in rows
