"""roles/misp_scheduled_tasks/files/misp-scheduled-task: the cron parser, next-run logic and the commands."""

import datetime
import fcntl
import importlib.machinery
import importlib.util
import json
import os
from pathlib import Path

import jinja2
import pytest

ROLE = Path(__file__).resolve().parents[2] / "roles" / "misp_scheduled_tasks"
SCRIPT = ROLE / "files" / "misp-scheduled-task"


def _load():
    loader = importlib.machinery.SourceFileLoader("misp_scheduled_task", str(SCRIPT))
    spec = importlib.util.spec_from_loader("misp_scheduled_task", loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


mst = _load()
T = datetime.datetime


def nexts(expression, after, count=3):
    return mst.CronSchedule(expression).next_runs(after, count)


# --- parser ---


@pytest.mark.parametrize(
    ("text", "low", "high", "expected"),
    [
        ("*", 0, 5, {0, 1, 2, 3, 4, 5}),
        ("3", 0, 59, {3}),
        ("1,5,9", 0, 59, {1, 5, 9}),
        ("10-13", 0, 59, {10, 11, 12, 13}),
        ("*/20", 0, 59, {0, 20, 40}),
        ("10-30/10", 0, 59, {10, 20, 30}),
        ("50/5", 0, 59, {50, 55}),
        ("1-3,*/30", 0, 59, {0, 1, 2, 3, 30}),
    ],
)
def test_parse_field(text, low, high, expected):
    assert mst.parse_field(text, "field", low, high) == expected


def test_parse_field_names():
    assert mst.parse_field("mon-fri", "day of week", 0, 7, mst.DOW_NAMES) == {1, 2, 3, 4, 5}
    assert mst.parse_field("Jan,DEC", "month", 1, 12, mst.MONTH_NAMES) == {1, 12}


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ("* * * *", "has 4 fields"),
        ("* * * * * *", "has 6 fields"),
        ("60 * * * *", "minute: 60 is outside 0-59"),
        ("* 24 * * *", "hour: 24 is outside"),
        ("* * 0 * *", "day of month: 0 is outside"),
        ("* * * 13 *", "month: 13 is outside"),
        ("* * * * 8", "day of week: 8 is outside"),
        ("5-1 * * * *", "runs backwards"),
        ("*/0 * * * *", "step '0'"),
        ("*/x * * * *", "step 'x'"),
        ("a * * * *", "'a' is not a number"),
        ("1,,2 * * * *", "empty list item"),
        ("-1 * * * *", "not a number"),
        ("0 0 31 2 *", "never fires"),
        ("0 0 30 2 *", "never fires"),
        ("@reboot", "not a supported macro"),
        ("", "has 0 fields"),
    ],
)
def test_bad_expressions(expression, message):
    with pytest.raises(mst.CronError, match=message):
        mst.CronSchedule(expression)
    assert message in mst.schedule_error(expression) or message.strip("'") in mst.schedule_error(expression)


def test_good_expression_has_no_error():
    assert mst.schedule_error("30 2 * * *") == ""


# --- next run ---


def test_next_run_is_strictly_later_and_whole_minutes():
    assert nexts("* * * * *", T(2026, 12, 3, 10, 15, 30), 2) == [T(2026, 12, 3, 10, 16), T(2026, 12, 3, 10, 17)]
    # Exactly on a run time: the next one, not this one.
    assert nexts("0 1 * * *", T(2026, 12, 3, 1, 0), 1) == [T(2026, 12, 4, 1, 0)]


def test_daily_later_today_and_tomorrow():
    assert nexts("30 2 * * *", T(2026, 12, 3, 1, 0), 2) == [T(2026, 12, 3, 2, 30), T(2026, 12, 4, 2, 30)]


def test_steps_and_ranges():
    assert nexts("*/15 2-3 * * *", T(2026, 12, 3, 3, 40), 3) == [
        T(2026, 12, 3, 3, 45),
        T(2026, 12, 4, 2, 0),
        T(2026, 12, 4, 2, 15),
    ]


def test_month_and_year_rollover():
    assert nexts("0 0 1 * *", T(2026, 12, 15), 2) == [T(2027, 1, 1), T(2027, 2, 1)]
    assert nexts("59 23 31 12 *", T(2026, 12, 31, 23, 59), 1) == [T(2027, 12, 31, 23, 59)]


def test_day_of_week_and_sunday_as_7():
    # 2026-12-03 is a Thursday.
    assert nexts("0 6 * * 1", T(2026, 12, 3), 1) == [T(2026, 12, 7, 6, 0)]
    assert nexts("0 6 * * 7", T(2026, 12, 3), 1) == nexts("0 6 * * 0", T(2026, 12, 3), 1) == [T(2026, 12, 6, 6, 0)]
    assert nexts("0 6 * * sat", T(2026, 12, 3), 1) == [T(2026, 12, 5, 6, 0)]


def test_day_of_month_or_day_of_week_when_both_restricted():
    # Vixie cron: the 13th OR any Friday (2026-12-04 is a Friday).
    assert nexts("0 0 13 * 5", T(2026, 12, 3), 3) == [T(2026, 12, 4), T(2026, 12, 11), T(2026, 12, 13)]
    # A starred field means AND: every Friday in the first week only.
    assert nexts("0 0 */1 * 5", T(2026, 12, 3), 1) == [T(2026, 12, 4)]


def test_leap_day():
    assert nexts("0 0 29 2 *", T(2026, 12, 3), 2) == [T(2028, 2, 29), T(2032, 2, 29)]


def test_macros():
    assert nexts("@hourly", T(2026, 12, 3, 10, 5), 1) == [T(2026, 12, 3, 11, 0)]
    assert nexts("@daily", T(2026, 12, 3, 10, 5), 1) == [T(2026, 12, 4)]
    assert nexts("@weekly", T(2026, 12, 3), 1) == [T(2026, 12, 6)]


def test_fixed_interval():
    after = T(2026, 12, 3, 10, 5)
    assert mst.CronSchedule("0 1 * * *").fixed_interval(after) == 86400
    assert mst.CronSchedule("*/10 * * * *").fixed_interval(after) == 600
    assert mst.CronSchedule("0 */6 * * *").fixed_interval(after) == 21600
    assert mst.CronSchedule("0 1,5 * * *").fixed_interval(after) is None
    assert mst.CronSchedule("0 0 1 * *").fixed_interval(after) is None


# --- cron file ---

TASKS = [
    {"name": "pull_all", "schedule": "0 1 * * *", "command": "/bin/true", "enabled": True},
    {"name": "fetch_feeds", "schedule": "30  2 * * *", "command": "/bin/true", "enabled": True},
    {"name": "push_all", "schedule": "0 0 * * *", "command": "/bin/true", "enabled": False},
]


def _render_template(tasks, user):
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(ROLE / "templates")), keep_trailing_newline=True)
    env.filters["comment"] = lambda text: "#\n# " + text + "\n#"
    return env.get_template("etc/cron.d/misp-scheduled-tasks.j2").render(
        ansible_managed="Ansible managed",
        __misp_scheduled_tasks_cron_tasks=tasks,
        misp_scheduled_tasks_user=user,
        __misp_scheduled_tasks_script="/usr/local/sbin/misp-scheduled-task",
    )


def _significant(text):
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def test_render_cron_one_line_per_enabled_task():
    lines = _significant(mst.render_cron(TASKS, "www-data"))
    assert lines[-2:] == [
        "0 1 * * * www-data /usr/local/sbin/misp-scheduled-task run pull_all",
        "30  2 * * * www-data /usr/local/sbin/misp-scheduled-task run fetch_feeds",
    ]
    assert not any("push_all" in line for line in lines)


def test_role_template_writes_what_rearm_writes():
    assert _significant(_render_template(TASKS, "www-data")) == _significant(mst.render_cron(TASKS, "www-data"))


# --- commands ---


@pytest.fixture
def files(tmp_path, monkeypatch):
    layout = {
        "tasks": tmp_path / "tasks.json",
        "cron": tmp_path / "cron",
        "state": tmp_path / "state",
        "lock": tmp_path / "lock",
    }
    layout["state"].mkdir()
    layout["lock"].mkdir()
    monkeypatch.setenv("MISP_SCHEDULED_TASKS_FILE", str(layout["tasks"]))
    monkeypatch.setenv("MISP_SCHEDULED_TASKS_CRON", str(layout["cron"]))
    monkeypatch.setenv("MISP_SCHEDULED_TASKS_STATE_DIR", str(layout["state"]))
    monkeypatch.setenv("MISP_SCHEDULED_TASKS_LOCK_DIR", str(layout["lock"]))
    monkeypatch.setattr(mst, "drop_privileges", lambda state_dir: None)
    tasks = [
        {"name": "ok", "schedule": "*/5 * * * *", "command": "sh -c 'echo fetched; echo done'", "enabled": True},
        {"name": "broken", "schedule": "0 3 * * *", "command": "sh -c 'echo oops >&2; exit 3'", "enabled": True},
        {"name": "off", "schedule": "0 4 * * *", "command": "/bin/true", "enabled": False},
    ]
    layout["tasks"].write_text(json.dumps(tasks))
    return layout


def test_run_writes_the_state_file(files, capsys):
    assert mst.main(["run", "ok"]) == 0
    state = json.loads((files["state"] / "ok.json").read_text())
    assert state["name"] == "ok" and state["rc"] == 0
    assert state["output_tail"] == "fetched\ndone"
    assert datetime.datetime.fromisoformat(state["finished"]) >= datetime.datetime.fromisoformat(state["started"])
    assert capsys.readouterr().out == ""  # silent on success: cron mails what a job prints


def test_run_failure_keeps_rc_and_says_so(files, capsys):
    assert mst.main(["run", "broken"]) == 3
    state = json.loads((files["state"] / "broken.json").read_text())
    assert state["rc"] == 3 and state["output_tail"] == "oops"
    assert "broken failed with rc=3" in capsys.readouterr().err


def test_run_unknown_task(files, capsys):
    assert mst.main(["run", "nope"]) == 2
    assert "no task 'nope'" in capsys.readouterr().err


def test_overlapping_run_exits_0_and_says_so(files, capsys):
    with open(files["lock"] / "misp-task-ok.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert mst.main(["run", "ok"]) == 0
    assert "still running" in capsys.readouterr().out
    assert not (files["state"] / "ok.json").exists()


def test_rearm_then_status(files, capsys):
    assert mst.main(["rearm"]) == 0
    cron = files["cron"].read_text()
    assert os.stat(files["cron"]).st_mode & 0o777 == 0o644
    assert f"{mst.SCRIPT} run ok" in cron and "run off" not in cron
    mst.main(["run", "ok"])
    capsys.readouterr()
    mst.main(["status", "--json"])
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["ok"]["armed"] and rows["ok"]["enabled"] and rows["ok"]["last_rc"] == 0
    assert datetime.datetime.fromisoformat(rows["ok"]["next_run"]) > datetime.datetime.now().astimezone()
    assert not rows["off"]["armed"] and rows["off"]["next_run"] is None
    assert rows["broken"]["last_started"] is None


def test_status_sees_a_commented_line_as_not_armed(files, capsys):
    mst.main(["rearm"])
    files["cron"].write_text(files["cron"].read_text().replace("*/5 * * * *", "#*/5 * * * *"))
    capsys.readouterr()
    assert mst.main(["status"]) == 1  # enabled but not armed
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["TASK", "SCHEDULE"]
    ok_line = next(line for line in table if line.startswith("ok "))
    assert " no " in ok_line


# --- MISP's task scheduler (2.5.18+): the SQL the sync writes, against a fake database ---


def _scheduler_tasks(files, tasks):
    files["tasks"].write_text(json.dumps(tasks))


def _sched(name, schedule="0 1 * * *", enabled=True, action="pull", timer=86400):
    return {
        "name": name,
        "schedule": schedule,
        "command": "/bin/true",
        "enabled": enabled,
        "method": "scheduler",
        "scheduler": {"type": "Server", "action": action, "params": "all,full", "timer": timer, "user_id": 1},
    }


@pytest.fixture
def fake_db(monkeypatch):
    db = {"rows": [], "queries": []}

    def mysql(database, query):
        db["queries"].append(query)
        return db["rows"] if query.startswith("SELECT") else []

    monkeypatch.setattr(mst, "misp_database", lambda root: {"login": "misp", "database": "misp"})
    monkeypatch.setattr(mst, "mysql", mysql)
    return db


def test_scheduler_sync_adds_missing_rows(files, fake_db, capsys):
    _scheduler_tasks(files, [_sched("pull_all")])
    assert mst.main(["scheduler-sync"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"changed": True, "actions": ["add pull_all"]}
    insert = fake_db["queries"][-1]
    assert insert.startswith("INSERT INTO scheduled_tasks (description, type, action, params, timer, user_id, enabled")
    assert "'mispops: pull_all', 'Server', 'pull', 'all,full', 86400, 1, 1," in insert


def test_scheduler_sync_unchanged_rows_and_check_mode(files, fake_db, capsys):
    _scheduler_tasks(files, [_sched("pull_all"), _sched("push_all", action="push", enabled=False)])
    fake_db["rows"] = [
        ["7", "mispops: pull_all", "Server", "pull", "all,full", "86400", "1", "1"],
        ["8", "mispops: push_all", "Server", "push", "all,full", "3600", "1", "0"],
        ["9", "mispops: gone", "Feed", "fetch", "all", "86400", "1", "1"],
    ]
    assert mst.main(["scheduler-sync", "--check"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out == {"changed": True, "actions": ["update push_all: timer", "remove gone"]}
    assert len(fake_db["queries"]) == 1  # --check: the SELECT only
    _scheduler_tasks(files, [_sched("pull_all")])
    fake_db["rows"] = fake_db["rows"][:1]
    mst.main(["scheduler-sync"])
    assert json.loads(capsys.readouterr().out) == {"changed": False, "actions": []}


def test_sql_literal_refuses_quotes():
    with pytest.raises(SystemExit):
        mst.sql_literal("x'; DROP TABLE users; --")


# --- the role's filter plugin ---


def _filters():
    loader = importlib.machinery.SourceFileLoader(
        "misp_scheduled_tasks_filters", str(ROLE / "filter_plugins" / "misp_scheduled_tasks.py")
    )
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module.FilterModule().filters()


def test_filter_entries_build_the_commands():
    import yaml

    kinds = yaml.safe_load((ROLE / "vars" / "main.yml").read_text())["__misp_scheduled_tasks_kinds"]
    entries = _filters()["misp_scheduled_tasks_entries"]
    tasks = [
        {"name": "pull", "kind": "pull_all", "schedule": "0  */4 * * *", "technique": "update"},
        {"name": "cache", "kind": "cache_feeds", "schedule": "@daily", "enabled": False, "scope": "csv"},
        {"name": "tpl", "kind": "update_object_templates", "schedule": "45 3 * * *"},
    ]
    cron = entries(tasks, kinds, "/var/www/MISP/app/Console/cake", 1, "cron")
    assert cron[0] == {
        "name": "pull",
        "schedule": "0 */4 * * *",
        "command": "/var/www/MISP/app/Console/cake Server pullAll 1 update",
        "enabled": True,
        "kind": "pull_all",
        "method": "cron",
    }
    assert cron[1]["command"].endswith("Server cacheFeed 1 csv") and cron[1]["enabled"] is False
    assert cron[2]["command"].endswith("Admin updateObjectTemplates 1")
    scheduler = entries(tasks, kinds, "/x/cake", 3, "scheduler")
    assert scheduler[0]["scheduler"] == {
        "type": "Server",
        "action": "pull",
        "params": "all,update",
        "timer": 14400,
        "user_id": 3,
    }
    assert scheduler[1]["scheduler"]["params"] == "all,csv"


def test_filter_schedule_checks():
    filters = _filters()
    assert filters["misp_scheduled_tasks_schedule_error"]("0 1 * * *") == ""
    assert "outside" in filters["misp_scheduled_tasks_schedule_error"]("0 25 * * *")
    assert filters["misp_scheduled_tasks_schedule_interval"]("*/30 * * * *") == 1800
    assert filters["misp_scheduled_tasks_schedule_interval"]("0 1,2 * * *") == 0
    assert filters["misp_scheduled_tasks_schedule_interval"]("bad") == 0
