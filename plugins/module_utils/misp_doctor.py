# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The doctor's checks: the seed's troubleshooting table and MISP's own diagnostics as rows.

Everything here is pure (no HTTP, no commands): parsers for what the host's tools print
(chronyc, supervisorctl, postconf, cake configLint, the scheduled task tool) and one
``check_<area>`` function per area that turns gathered facts into rows. The module
``misp_doctor_check`` gathers the facts and calls :func:`evaluate`; the role prints
:func:`render_table` and writes :func:`build_report` as JSON.

A row is a dict::

    {"area": "workers", "check": "queue email", "status": "problem",
     "detail": "no live worker (stopped: email_00)",
     "fix": "Individually restore dead workers ...",     # what to do (text), or None
     "action": "restart_workers",                         # what the doctor may do itself, or None
     "done": None}                                        # what it did (after a fixing run)

``status`` is one of :data:`STATUSES`: ``problem`` makes the play fail, ``warn`` is worth a
look, ``fixed`` was a problem the doctor repaired in this run.
"""

from __future__ import annotations

import calendar
import datetime
import json
import re
import textwrap

OK = "ok"
INFO = "info"
WARN = "warn"
PROBLEM = "problem"
FIXED = "fixed"
STATUSES = (OK, INFO, WARN, PROBLEM, FIXED)

AREAS = ("sync", "workers", "scheduled_tasks", "time", "mail", "diagnostics")

# What the doctor may repair itself (misp_doctor_fix: true). Never data, never sync keys.
ACTIONS = {
    "restart_workers": "restart the dead workers (supervisorctl start)",
    "rearm_scheduled_tasks": "re-arm the scheduled tasks (misp-scheduled-task rearm)",
    "start_time_sync": "start the time sync daemon",
    "resync_time": "resynchronise the clock (chronyc makestep, wait for sync)",
    "start_postfix": "start Postfix",
    "flush_mail_queue": "flush the mail queue (postqueue -f)",
    "enable_emailing": "set MISP.disable_emailing to false",
}

# Fix texts of the seed's troubleshooting table (training course D4.10), whitespace normalised.
FIX_WORKERS = (
    "Individually restore dead workers (Administration > Server Settings & Maintenance > Workers): "
    "remove the dead worker, start a new one. Here: supervisorctl start misp-workers:<name>, "
    "or run the doctor with misp_doctor_fix=true."
)
FIX_SCHEDULED = (
    "Scheduled tasks are not running: make sure each task is armed with a next run after the "
    "current system time (misp-scheduled-task rearm, or role misp_scheduled_tasks)."
)
FIX_TIME = (
    "Synchronise the Linux system clock with an NTP server: check that the time sync service runs "
    "(systemctl status chrony / systemd-timesyncd), that it has reachable sources (chronyc sources) and "
    "enable clock synchronisation (timedatectl set-ntp true); set the time zone with timedatectl set-timezone."
)
FIX_POSTFIX = "Postfix must run and relay MISP's mail (see 'Configure MISP e-mail alerts via Postfix'; role misp_mail)."
FIX_DISABLE_EMAILING = (
    "To enable the MISP platform to send e-mails, set MISP.disable_emailing = false "
    "(Administration > Server Settings & Maintenance > MISP; role misp_mail does it)."
)
FIX_PUBLISH_ALERT = (
    "Select the target user in Administration > List Users, edit, flag 'Event published notification' "
    "(autoalert; role misp_mail: misp_mail_alert_users)."
)


def row(area, check, status, detail, fix=None, action=None, **data):
    out = {"area": area, "check": check, "status": status, "detail": detail, "fix": fix, "action": action, "done": None}
    if data:
        out["data"] = data
    return out


def _bool(value):
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def _int(value, default=None):
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _float(value, default=None):
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def parse_time(value):
    """ISO 8601 string (with or without zone; naive = UTC) or epoch number -> epoch seconds, or None."""
    if value in (None, "", 0, "0"):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if re.match(r"^\d+(\.\d+)?$", text):
        return float(text)
    text = text.replace("Z", "+00:00")
    if " " in text and "T" not in text:
        text = text.replace(" ", "T", 1)
    try:
        parsed = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        return float(calendar.timegm(parsed.timetuple())) + parsed.microsecond / 1e6
    return parsed.timestamp()


def iso(epoch):
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# ======================================================================================
# Parsers of what the host's tools print
# ======================================================================================
def parse_supervisor_status(text, group="misp-workers"):
    """``supervisorctl status`` -> {process name (without group): state} for ``group``."""
    out = {}
    for line in (text or "").splitlines():
        match = re.match(r"^(\S+)\s+([A-Z]+)\b", line.strip())
        if not match:
            continue
        name, state = match.groups()
        if ":" in name:
            grp, name = name.split(":", 1)
            if grp != group:
                continue
        elif group:
            continue
        out[name] = state
    return out


def parse_chronyc_tracking(text):
    """``chronyc -c tracking`` (CSV) -> dict; None when empty or not CSV."""
    line = (text or "").strip().splitlines()
    if not line:
        return None
    fields = line[0].split(",")
    if len(fields) < 14:
        return None
    ref_id = fields[0]
    return {
        "ref_id": ref_id,
        "ref_name": fields[1],
        "stratum": _int(fields[2]),
        "ref_time": _float(fields[3]),
        # chronyc -c: positive = the system clock is fast of NTP time.
        "system_offset": _float(fields[4]),
        "last_offset": _float(fields[5]),
        "rms_offset": _float(fields[6]),
        "update_interval": _float(fields[12]),
        "leap_status": fields[13].strip(),
        "synchronised": ref_id not in ("00000000", "7F7F0101") and fields[13].strip() != "Not synchronised",
        "local_reference": ref_id == "7F7F0101",
    }


def parse_chronyc_sources(text):
    """``chronyc -c sources`` (CSV) -> list of sources."""
    out = []
    for line in (text or "").splitlines():
        fields = line.strip().split(",")
        if len(fields) < 10:
            continue
        out.append(
            {
                "mode": fields[0],
                "state": fields[1],
                "name": fields[2],
                "stratum": _int(fields[3]),
                "reach": _int(fields[5], 0),
                "last_rx": _int(fields[6]),
                "offset": _float(fields[8]),
                "error": _float(fields[9]),
                "selected": fields[1] == "*",
            }
        )
    return out


def parse_timedatectl(text):
    """``timedatectl show`` (key=value lines) -> dict."""
    out = {}
    for line in (text or "").splitlines():
        if "=" in line:
            key, value = line.split("=", 1)
            out[key.strip()] = value.strip()
    return out


def parse_relayhost(value):
    """Postfix relayhost ("[host]:port", "host:port", "host", "") -> (host, port) or None (direct delivery)."""
    value = (value or "").strip()
    if not value:
        return None
    value = value.split(",")[0].strip()
    match = re.match(r"^\[([^\]]+)\](?::(\d+))?$", value)
    if match:
        return match.group(1), int(match.group(2) or 25)
    host, _, port = value.partition(":")
    return host, int(port) if port.isdigit() else 25


def parse_config_lint(text):
    """``cake Admin configLint`` -> [{"setting", "message"}] (lines "<Setting.name>: <message>")."""
    out = []
    for line in (text or "").splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_]+\.[A-Za-z0-9_.]+)\s*:\s*(.*)$", line)
        if match:
            out.append({"setting": match.group(1), "message": match.group(2).strip()})
    return out


def parse_scheduled_tasks(data):
    """``misp-scheduled-task status --json`` -> list of tasks with normalised keys.

    Accepts ``{"tasks": [...]}``, a list, or ``{name: {...}}``; key variants of the fields
    (``last_rc``/``rc``/``last_exit_code``, ``next_run``/``next``...) are read alike.
    """
    if isinstance(data, str):
        data = json.loads(data) if data.strip() else []
    if isinstance(data, dict) and "tasks" in data:
        data = data["tasks"]
    if isinstance(data, dict):
        data = [dict(v, name=v.get("name", k)) for k, v in data.items() if isinstance(v, dict)]
    tasks = []
    for task in data or []:
        last = task.get("last") if isinstance(task.get("last"), dict) else {}

        def pick(*keys, _task=task, _last=last):
            for key in keys:
                if _task.get(key) is not None:
                    return _task[key]
            for key in keys:
                short = key.replace("last_", "")
                if _last.get(short) is not None:
                    return _last[short]
            return None

        tasks.append(
            {
                "name": task.get("name"),
                "schedule": task.get("schedule"),
                "enabled": _bool(task.get("enabled", True)),
                "armed": _bool(pick("armed")),
                "cron_schedule": task.get("cron_schedule"),
                "running": _bool(task.get("running")),
                "last_started": pick("last_started", "last_start", "last_run"),
                "last_finished": pick("last_finished", "last_end"),
                "last_rc": _int(pick("last_rc", "rc", "last_exit_code", "last_status")),
                "next_run": pick("next_run", "next"),
            }
        )
    return tasks


# ======================================================================================
# Checks, one function per area: facts in, rows out
# ======================================================================================
def check_sync(links):
    """``links``: [{"id", "name", "url", "pull", "push", "connection": misp_sync classification}]."""
    area = "sync"
    if not links:
        return [row(area, "sync links", INFO, "no sync links (server entries) on this instance")]
    rows = []
    for link in links:
        label = f"{link.get('name')} ({link.get('url')})"
        conn = link.get("connection") or {}
        if conn.get("ok"):
            version = conn.get("remote_version")
            rows.append(row(area, label, OK, f"connection OK{', remote MISP ' + version if version else ''}"))
            continue
        result = conn.get("result", "other")
        status_text = {
            "authentication_failed": "authentication failed",
            "not_reachable": "destination not reachable",
            "not_sync_user": "remote user not a sync user",
        }.get(result, "other failure")
        rows.append(
            row(
                area,
                label,
                PROBLEM,
                f"{status_text}: {conn.get('message', 'no answer')}",
                fix=conn.get("fix"),
                result=result,
                misp_status=conn.get("status"),
            )
        )
    return rows


def check_workers(misp_workers, supervisor=None, group="misp-workers"):
    """``misp_workers``: raw answer of GET /servers/getWorkers; ``supervisor``: {name: state} or None."""
    area = "workers"
    if not isinstance(misp_workers, dict):
        if misp_workers is None:
            return [row(area, "workers", PROBLEM, "MISP's worker list could not be read", fix=FIX_WORKERS)]
        return [
            row(
                area,
                "background jobs",
                PROBLEM,
                f"MISP answers {misp_workers!r}: background jobs are off (MISP.background_jobs)",
                fix="Turn MISP.background_jobs and SimpleBackgroundJobs.enabled on (role misp_workers).",
            )
        ]
    rows = []
    if misp_workers.get("supervisord_status") is False or (supervisor is not None and not supervisor):
        rows.append(
            row(
                area,
                "supervisor",
                PROBLEM,
                "supervisord is down or MISP cannot reach it: no worker runs",
                fix=FIX_WORKERS,
                action="restart_workers",
            )
        )
    supervisor = supervisor or {}
    for queue, info in sorted(misp_workers.items()):
        if not isinstance(info, dict):
            continue
        procs = {n: s for n, s in supervisor.items() if n.split("_")[0] == queue}
        dead_sup = sorted(n for n, s in procs.items() if s not in ("RUNNING", "STARTING"))
        workers = info.get("workers") or []
        alive = [w for w in workers if _bool(w.get("alive")) and _bool(w.get("correct_user", True))]
        wrong_user = [
            str(w.get("pid")) for w in workers if _bool(w.get("alive")) and not _bool(w.get("correct_user", True))
        ]
        dead_misp = [str(w.get("pid")) for w in workers if not _bool(w.get("alive"))]
        jobs = _int(info.get("jobCount"), 0)
        ok = _bool(info.get("ok")) and not dead_sup
        parts = [f"{len(alive)} live"]
        if dead_sup:
            parts.append("dead: " + ", ".join(f"{n} ({procs[n]})" for n in dead_sup))
        if dead_misp:
            parts.append("dead pids: " + ", ".join(dead_misp))
        if wrong_user:
            parts.append("wrong user pids: " + ", ".join(wrong_user))
        parts.append(f"{jobs} queued job{'s' if jobs != 1 else ''}")
        if ok:
            rows.append(row(area, f"queue {queue}", OK, ", ".join(parts)))
        else:
            if not alive:
                parts[0] = "no live worker"
            rows.append(
                row(area, f"queue {queue}", PROBLEM, ", ".join(parts), fix=FIX_WORKERS, action="restart_workers")
            )
    if not rows:
        rows.append(row(area, "workers", PROBLEM, "MISP reports no worker queue at all", fix=FIX_WORKERS))
    return rows


def check_scheduled_tasks(tasks, now, tool_found=True, required=True):
    """``tasks``: :func:`parse_scheduled_tasks` output; ``now``: epoch seconds."""
    area = "scheduled_tasks"
    if not tool_found or not tasks:
        what = "no scheduled task tool (misp-scheduled-task)" if not tool_found else "no scheduled task defined"
        return [
            row(
                area,
                "scheduled tasks",
                PROBLEM if required else INFO,
                f"{what}: feeds are not fetched and servers not pulled periodically",
                fix=FIX_SCHEDULED + " Define them with role misp_scheduled_tasks.",
            )
        ]
    rows = []
    for task in tasks:
        name = task["name"]
        check = f"task {name}"
        schedule = task.get("schedule") or "?"
        if task.get("enabled") is False:
            rows.append(
                row(
                    area,
                    check,
                    WARN,
                    f"disabled ({schedule}): never runs",
                    fix="Enable it in the scheduled task definitions (role misp_scheduled_tasks) if it should run.",
                )
            )
            continue
        problems = []
        action = None
        if task.get("armed") is False:
            problems.append("enabled but not armed (no cron line)")
            action = "rearm_scheduled_tasks"
        elif task.get("cron_schedule") and " ".join(task["cron_schedule"].split()) != " ".join(schedule.split()):
            problems.append(f"armed with an outdated schedule ({task['cron_schedule']})")
            action = "rearm_scheduled_tasks"
        next_run = parse_time(task.get("next_run"))
        if next_run is None:
            if not problems:
                problems.append("no next run")
            action = "rearm_scheduled_tasks"
        elif next_run <= now:
            problems.append(f"next run {iso(next_run)} is not in the future")
            action = "rearm_scheduled_tasks"
        rc = task.get("last_rc")
        started = parse_time(task.get("last_started"))
        finished = parse_time(task.get("last_finished"))
        if rc not in (None, 0):
            problems.append(f"last run {iso(started) or '?'} failed (exit code {rc})")
        if started is None:
            last = "never ran yet"
        elif task.get("running") or finished is None or (started and finished < started):
            last = f"running since {iso(started)}"
        else:
            last = f"last run {iso(started)} exit {rc}"
        detail = f"{schedule}; next {iso(next_run) or '-'}; {last}"
        if problems:
            fix = FIX_SCHEDULED
            if rc not in (None, 0):
                fix += f" Read why it failed: misp-scheduled-task run {name} (as root) prints the command's output."
            rows.append(row(area, check, PROBLEM, "; ".join(problems) + f" ({detail})", fix=fix, action=action))
        else:
            rows.append(row(area, check, OK, detail))
    return rows


def check_time(facts, max_offset=1.0, max_http_skew=5.0):
    """``facts``: {"implementation", "service", "active", "tracking", "sources", "timedatectl",
    "http_date_skew", "timezone", "php_timezone"}."""
    area = "time"
    rows = []
    impl = facts.get("implementation")
    service = facts.get("service") or impl or "chrony"
    if impl is None:
        rows.append(
            row(area, "time sync service", PROBLEM, "neither chrony nor systemd-timesyncd is installed", fix=FIX_TIME)
        )
    elif not facts.get("active"):
        rows.append(
            row(area, "time sync service", PROBLEM, f"{service} is not running", fix=FIX_TIME, action="start_time_sync")
        )
    else:
        rows.append(row(area, "time sync service", OK, f"{service} is running"))

    if impl == "chrony":
        tracking = facts.get("tracking")
        sources = facts.get("sources") or []
        selected = [s["name"] for s in sources if s.get("selected")]
        reachable = [s["name"] for s in sources if s.get("reach")]
        if tracking is None:
            rows.append(
                row(
                    area,
                    "synchronised",
                    PROBLEM,
                    "chronyd does not answer (chronyc tracking failed)",
                    fix=FIX_TIME,
                    action="start_time_sync" if not facts.get("active") else "resync_time",
                )
            )
        elif not tracking.get("synchronised") and _close_sources(sources, max_offset):
            # After a restart or a clock jump chronyd needs a few samples before it selects a source
            # again; the sources it reaches already show how far off the clock is.
            close = _close_sources(sources, max_offset)
            rows.append(
                row(
                    area,
                    "synchronised",
                    WARN,
                    "re-selecting its source (too few samples after a restart or a clock jump); reachable "
                    + ", ".join(f"{s['name']} {s['offset'] * 1000:+.3f} ms" for s in close),
                    fix="Wait a few polls, or speed it up: chronyc burst 4/4.",
                    action="resync_time",
                )
            )
        elif not tracking.get("synchronised"):
            why = "only its local reference clock" if tracking.get("local_reference") else "not synchronised"
            rows.append(
                row(
                    area,
                    "synchronised",
                    PROBLEM,
                    f"{why}; sources: {', '.join(s['name'] + ' ' + s['state'] for s in sources) or 'none'}",
                    fix=FIX_TIME,
                    action="resync_time",
                )
            )
        else:
            rows.append(
                row(
                    area,
                    "synchronised",
                    OK,
                    f"to {tracking.get('ref_name') or tracking.get('ref_id')} (stratum {tracking.get('stratum')}),"
                    f" {len(reachable)}/{len(sources)} sources reachable, selected: {', '.join(selected) or '-'}",
                )
            )
        if tracking is not None:
            offset = tracking.get("system_offset") or 0.0
            last = tracking.get("last_offset") or 0.0
            worst = max(abs(offset), abs(last))
            detail = f"system clock {offset * 1000:+.3f} ms from NTP time (last offset {last * 1000:+.3f} ms)"
            if worst > max_offset:
                rows.append(
                    row(
                        area,
                        "offset from NTP",
                        PROBLEM,
                        detail + f", above {max_offset} s",
                        fix=FIX_TIME,
                        action="resync_time",
                    )
                )
            else:
                rows.append(row(area, "offset from NTP", OK, detail))
    elif impl == "systemd-timesyncd":
        show = facts.get("timedatectl") or {}
        if show.get("NTPSynchronized") == "yes":
            rows.append(row(area, "synchronised", OK, "systemd-timesyncd reports the clock synchronised"))
        else:
            rows.append(
                row(
                    area,
                    "synchronised",
                    PROBLEM,
                    f"not synchronised (NTP={show.get('NTP', '?')}, "
                    f"NTPSynchronized={show.get('NTPSynchronized', '?')})",
                    fix=FIX_TIME,
                    action="resync_time",
                )
            )

    skew = facts.get("http_date_skew")
    if skew is None:
        rows.append(row(area, "MISP clock (HTTP Date)", WARN, "MISP's answer had no Date header"))
    else:
        detail = f"MISP's Date header {skew:+.1f} s from the system clock"
        tz, php_tz = facts.get("timezone"), facts.get("php_timezone")
        if tz:
            detail += f"; system time zone {tz}"
        if php_tz:
            detail += f", PHP {php_tz}"
        if abs(skew) > max_http_skew:
            rows.append(
                row(
                    area,
                    "MISP clock (HTTP Date)",
                    PROBLEM,
                    detail + f", above {max_http_skew} s",
                    fix=FIX_TIME,
                    action="resync_time",
                )
            )
        elif tz and php_tz and _tz_differs(tz, php_tz):
            rows.append(
                row(
                    area,
                    "MISP clock (HTTP Date)",
                    WARN,
                    detail + ": MISP shows times in another zone than the system",
                    fix="Set PHP's date.timezone to the system's zone (role misp_php follows time_sync_timezone).",
                )
            )
        else:
            rows.append(row(area, "MISP clock (HTTP Date)", OK, detail))
    return rows


def _close_sources(sources, max_offset):
    """Reachable sources whose last measured offset is within ``max_offset`` seconds."""
    return [s for s in sources if s.get("reach") and s.get("offset") is not None and abs(s["offset"]) <= max_offset]


def _tz_differs(a, b):
    utc = {"UTC", "Etc/UTC", "Etc/Universal", "Universal", "Zulu", "Etc/Zulu", "GMT", "Etc/GMT"}
    if a in utc and b in utc:
        return False
    return a != b


def check_mail(facts, queue_max=0, expect_emailing=True):
    """``facts``: {"postfix_installed", "postfix_active", "queue": {"deferred": n, ...}, "relay":
    {"host", "port", "reachable", "error"} or None, "disable_emailing", "alert_users": [emails],
    "gpg_sign", "gpg_status", "gpg_status_text"}."""
    area = "mail"
    rows = []
    if not facts.get("postfix_installed"):
        rows.append(row(area, "Postfix", PROBLEM, "Postfix is not installed", fix=FIX_POSTFIX))
    elif not facts.get("postfix_active"):
        rows.append(row(area, "Postfix", PROBLEM, "Postfix is not running", fix=FIX_POSTFIX, action="start_postfix"))
    else:
        rows.append(row(area, "Postfix", OK, "running"))

    queue = facts.get("queue")
    if queue is not None:
        waiting = sum(queue.get(k, 0) for k in ("maildrop", "deferred", "hold"))
        total = sum(queue.values())
        detail = f"{total} message{'s' if total != 1 else ''} queued (" + ", ".join(
            f"{k} {v}" for k, v in sorted(queue.items()) if v
        )
        detail = detail.rstrip(" (") + (")" if total else "")
        if waiting > queue_max:
            rows.append(
                row(
                    area,
                    "mail queue",
                    PROBLEM,
                    detail + f"; {waiting} not leaving",
                    fix="Find why with `postqueue -p` and the mail log, then flush it (postqueue -f).",
                    action="flush_mail_queue",
                )
            )
        else:
            rows.append(row(area, "mail queue", OK, detail))

    relay = facts.get("relay")
    if relay is None:
        rows.append(row(area, "relay", INFO, "no relayhost: Postfix delivers to each domain's MX directly"))
    elif relay.get("reachable"):
        rows.append(row(area, "relay", OK, f"{relay['host']}:{relay['port']} reachable"))
    else:
        rows.append(
            row(
                area,
                "relay",
                PROBLEM,
                f"{relay['host']}:{relay['port']} not reachable: {relay.get('error') or 'no answer'}",
                fix="There might be a network problem (firewall rules, proxies) between this host and the relay; "
                "check misp_mail_relay_host.",
            )
        )

    disabled = facts.get("disable_emailing")
    if disabled is None:
        rows.append(row(area, "MISP.disable_emailing", WARN, "could not be read"))
    elif disabled and expect_emailing:
        rows.append(
            row(
                area,
                "MISP.disable_emailing",
                PROBLEM,
                "true: MISP sends no e-mail at all",
                fix=FIX_DISABLE_EMAILING,
                action="enable_emailing",
            )
        )
    else:
        rows.append(
            row(
                area,
                "MISP.disable_emailing",
                OK if not disabled else INFO,
                "false" if not disabled else "true (as wanted)",
            )
        )

    users = facts.get("alert_users")
    if users is not None:
        if users:
            shown = ", ".join(users[:5]) + (f" and {len(users) - 5} more" if len(users) > 5 else "")
            rows.append(row(area, "publish alerts", OK, f"{len(users)} user(s) with publish alert on: {shown}"))
        else:
            rows.append(
                row(area, "publish alerts", WARN, "no enabled user has the publish alert on", fix=FIX_PUBLISH_ALERT)
            )

    if facts.get("gpg_sign"):
        status = facts.get("gpg_status")
        if status in (0, None):
            rows.append(row(area, "GnuPG signing", OK if status == 0 else INFO, facts.get("gpg_status_text") or "OK"))
        else:
            rows.append(
                row(
                    area,
                    "GnuPG signing",
                    PROBLEM,
                    f"GnuPG.sign is on but GnuPG fails ({facts.get('gpg_status_text') or status}): every mail fails",
                    fix="Configure MISP's GnuPG key (role misp_mail) or set GnuPG.sign false.",
                )
            )
    return rows


def check_diagnostics(facts, php_settings_level=WARN):
    """``facts``: {"config_lint": [{"setting","message","level"}], "db_schema": dict, "updates": dict,
    "redis": {"ok", "detail"}, "background_jobs_status", "php_settings": [{"name","value","recommended","ok"}],
    "unwritable": [paths], "version": str}."""
    area = "diagnostics"
    rows = []
    lint = facts.get("config_lint")
    if lint is not None:
        by_level = {}
        for item in lint:
            by_level.setdefault(_int(item.get("level"), 1), []).append(item)
        if not lint:
            rows.append(row(area, "configLint", OK, "no setting fails its test"))
        for level, items in sorted(by_level.items()):
            names = "; ".join(f"{i['setting']}: {i['message']}" for i in items)
            status, label = {0: (PROBLEM, "critical"), 1: (WARN, "recommended"), 2: (INFO, "optional")}.get(
                level, (INFO, "deprecated")
            )
            rows.append(
                row(
                    area,
                    f"configLint {label}",
                    status,
                    f"{len(items)} setting(s) fail their test: {names}",
                    fix="Correct them in Administration > Server Settings & Maintenance (or the role that owns "
                    "them); `cake Admin configLint` lists them.",
                )
            )

    schema = facts.get("db_schema")
    updates = facts.get("updates") or {}
    if schema is not None:
        problems = []
        actual, expected = schema.get("actual_db_version"), schema.get("expected_db_version")
        if actual is not None and expected is not None and str(actual) != str(expected):
            problems.append(f"database version {actual}, MISP expects {expected}")
        if schema.get("critical_issues"):
            problems.append(f"{schema['critical_issues']} critical schema difference(s)")
        remaining = _int(updates.get("complete_update_remaining"), 0)
        if remaining:
            problems.append(f"{remaining} database update(s) pending")
        if _bool(updates.get("update_locked")) or _bool(schema.get("update_locked")):
            problems.append("updates locked")
        if _bool(updates.get("update_fail_number_reached")):
            problems.append("an update failed too often")
        if schema.get("error"):
            problems.append(str(schema["error"]))
        if problems:
            rows.append(
                row(
                    area,
                    "database schema",
                    PROBLEM,
                    "; ".join(problems),
                    fix="Run the pending updates (cake Admin runUpdates as www-data) and read "
                    "Administration > Server Settings & Maintenance > Diagnostics > Schema status.",
                )
            )
        elif schema.get("issues"):
            rows.append(
                row(
                    area,
                    "database schema",
                    WARN,
                    f"version {actual}; {schema['issues']} non-critical schema difference(s)",
                    fix="See Diagnostics > Schema status.",
                )
            )
        else:
            rows.append(row(area, "database schema", OK, f"version {actual}, up to date"))

    redis = facts.get("redis")
    if redis is not None:
        if redis.get("ok"):
            rows.append(row(area, "Redis", OK, redis.get("detail") or "reachable"))
        else:
            rows.append(
                row(
                    area,
                    "Redis",
                    PROBLEM,
                    redis.get("detail") or "MISP cannot reach Redis",
                    fix="Start Redis (systemctl start redis-server) and check MISP.redis_* settings (role misp_redis).",
                )
            )
    bg = facts.get("background_jobs_status")
    if bg is not None:
        if str(bg).startswith("OK") or bg == 0:
            rows.append(row(area, "background jobs", OK, str(bg)))
        else:
            rows.append(
                row(
                    area,
                    "background jobs",
                    PROBLEM,
                    str(bg),
                    fix="Check Redis and supervisor (SimpleBackgroundJobs.* settings, role misp_workers).",
                )
            )

    php = facts.get("php_settings")
    if php is not None:
        bad = [p for p in php if not p.get("ok")]
        if bad:
            rows.append(
                row(
                    area,
                    "PHP settings",
                    php_settings_level,
                    "; ".join(f"{p['name']} = {p.get('value')} (MISP recommends {p.get('recommended')})" for p in bad),
                    fix="Raise them in PHP-FPM's php.ini (role misp_php) and restart php-fpm.",
                )
            )
        else:
            rows.append(
                row(area, "PHP settings", OK, ", ".join(f"{p['name']} {p.get('value')}" for p in php) or "none checked")
            )

    unwritable = facts.get("unwritable")
    if unwritable:
        rows.append(
            row(
                area,
                "file permissions",
                PROBLEM,
                "not writable/readable by MISP: " + ", ".join(unwritable),
                fix="Give them back to the web server user (chown www-data; role misp_app).",
            )
        )
    elif unwritable is not None:
        rows.append(row(area, "file permissions", OK, "MISP can write its directories"))
    return rows


# ======================================================================================
# Summary, merge with an earlier run, rendering
# ======================================================================================
def summarise(rows):
    counts = {s: 0 for s in STATUSES}
    for r in rows:
        counts[r["status"]] = counts.get(r["status"], 0) + 1
    return counts


def needed_actions(rows):
    """Fix actions the doctor may run for the rows with problems, in a stable order."""
    wanted = {r["action"] for r in rows if r["status"] == PROBLEM and r.get("action")}
    return [a for a in ACTIONS if a in wanted]


def merge_fixed(before_rows, after_rows, done):
    """Rows of the run after fixing, with problems of ``before_rows`` now gone marked ``fixed``.

    ``done``: {action: text of what was done}. A row that was a problem before and is
    ``ok``/``info`` now becomes ``fixed`` with ``done`` = the text of its action.
    """
    before = {(r["area"], r["check"]): r for r in before_rows or []}
    out = []
    for r in after_rows:
        r = dict(r)
        prev = before.get((r["area"], r["check"]))
        if prev and prev["status"] == PROBLEM:
            action = prev.get("action")
            text = done.get(action) if action else None
            if r["status"] in (OK, INFO):
                r["status"] = FIXED
                r["done"] = text or "fixed by another repair in this run"
                r["was"] = prev["detail"]
            elif text:
                r["done"] = "tried: " + text
        out.append(r)
    return out


def build_report(host, rows, now, mode, misp_version=None, done=None, before=None):
    counts = summarise(rows)
    report = {
        "host": host,
        "generated_at": iso(now),
        "mode": mode,
        "misp_version": misp_version,
        "healthy": counts[PROBLEM] == 0,
        "summary": counts,
        "problems": [f"{r['area']}: {r['check']}: {r['detail']}" for r in rows if r["status"] == PROBLEM],
        "fixes_applied": [{"action": a, "what": ACTIONS.get(a, a), "done": t} for a, t in (done or {}).items()],
        "rows": rows,
    }
    if before is not None:
        report["before_fixing"] = {"summary": summarise(before), "rows": before}
    return report


_LABEL = {OK: "ok", INFO: "info", WARN: "WARN", PROBLEM: "PROBLEM", FIXED: "FIXED"}


def render_table(report, width=118):
    """A plain-text table of the report (fits a terminal; long details wrap)."""
    rows = report["rows"]
    counts = report["summary"]
    head = (
        f"MISP doctor: {report['host']}"
        + (f" (MISP {report['misp_version']})" if report.get("misp_version") else "")
        + f", {report['generated_at']}, {report['mode']}: "
        + f"{counts[PROBLEM]} problem(s), {counts[WARN]} warning(s), {counts[FIXED]} fixed, {counts[OK]} ok"
    )
    area_w = max([len("AREA")] + [len(r["area"]) for r in rows])
    check_w = min(34, max([len("CHECK")] + [len(r["check"]) for r in rows]))
    status_w = 7
    detail_w = max(30, width - area_w - check_w - status_w - 6)
    sep = "-" * min(width, area_w + check_w + status_w + detail_w + 6)
    lines = [head, sep, f"{'AREA':<{area_w}}  {'CHECK':<{check_w}}  {'STATUS':<{status_w}}  DETAIL", sep]
    last_area = None
    for r in rows:
        texts = [r["detail"]]
        if r["status"] == FIXED:
            texts = [f"{r['detail']} (was: {r.get('was')}; done: {r.get('done')})"]
        elif r.get("done"):
            texts.append(f"Done: {r['done']}")
        if r["status"] in (PROBLEM, WARN) and r.get("fix"):
            texts.append(f"Fix: {r['fix']}")
        wrapped = []
        for t in texts:
            wrapped.extend(textwrap.wrap(str(t), detail_w) or [""])
        check_lines = textwrap.wrap(r["check"], check_w) or [""]
        area = r["area"] if r["area"] != last_area else ""
        last_area = r["area"]
        for i in range(max(len(wrapped), len(check_lines))):
            cells = (
                area if i == 0 else "",
                check_lines[i] if i < len(check_lines) else "",
                _LABEL[r["status"]] if i == 0 else "",
                wrapped[i] if i < len(wrapped) else "",
            )
            lines.append(f"{cells[0]:<{area_w}}  {cells[1]:<{check_w}}  {cells[2]:<{status_w}}  {cells[3]}".rstrip())
    lines.append(sep)
    if report.get("fixes_applied"):
        lines.append("Fixes applied: " + "; ".join(f"{f['what']}: {f['done']}" for f in report["fixes_applied"]))
    lines.append("Result: " + ("healthy" if report["healthy"] else f"{counts[PROBLEM]} problem(s) remain"))
    return "\n".join(lines)
