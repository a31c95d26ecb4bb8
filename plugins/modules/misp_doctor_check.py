#!/usr/bin/python
# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: misp_doctor_check
short_description: Examine a MISP host the way the training course's troubleshooting table does
version_added: 0.1.0
description:
  - Read-only. Gathers what the seed's troubleshooting table and MISP's own diagnostics look
    at, on the MISP host it runs on, and judges it into rows (area, check, status, detail,
    fix text, the repair the doctor may make itself).
  - V(sync) lists the server entries (C(GET /servers/index)) and runs MISP's connection test
    on each (C(POST /servers/testConnection/<id>)), classified as in M(mispops.misp.misp_server).
  - V(workers) reads MISP's worker view (C(GET /servers/getWorkers)) and supervisor's
    (C(supervisorctl status)).
  - V(scheduled_tasks) reads C(misp-scheduled-task status --json) (role misp_scheduled_tasks).
  - V(time) reads chrony (C(chronyc -c tracking), C(chronyc -c sources)) or systemd-timesyncd
    (C(timedatectl show)) and compares MISP's HTTP C(Date) header with the host's clock.
  - V(mail) reads Postfix (service, queue directories, C(relayhost) and a TCP connection to it),
    C(MISP.disable_emailing), C(GnuPG.sign) and the users with the publish alert on.
  - V(diagnostics) runs C(cake Admin configLint) (as the web server user) and reads MISP's
    diagnostics (C(GET /servers/serverSettings)), schema (C(GET /servers/dbSchemaDiagnostic))
    and pending updates (C(GET /servers/updateProgress)).
  - The repairs themselves are tasks of role misp_doctor; given O(previous) and O(done), this
    module marks the problems of the earlier run that are gone as C(fixed).
author:
  - mispops contributors (!UNKNOWN)
extends_documentation_fragment:
  - mispops.misp.misp
  - mispops.misp.misp.read_only
options:
  areas:
    description: Which areas to examine.
    type: list
    elements: str
    choices: [sync, workers, scheduled_tasks, time, mail, diagnostics]
    default: [sync, workers, scheduled_tasks, time, mail, diagnostics]
  host_name:
    description: Name of the host in the report (the inventory name).
    type: str
    required: true
  mode:
    description: Shown in the report; V(report), V(fix) or V(check).
    type: str
    choices: [report, fix, check]
    default: report
  misp_root:
    description: MISP's installation directory (C(app/Console/cake)).
    type: path
    default: /var/www/MISP
  misp_user:
    description: Operating-system user MISP runs as (C(cake) never runs as root).
    type: str
    default: www-data
  supervisor_group:
    description: Supervisor group of MISP's workers.
    type: str
    default: misp-workers
  scheduled_task_tool:
    description: Path of the scheduled task tool of role misp_scheduled_tasks.
    type: path
    default: /usr/local/sbin/misp-scheduled-task
  scheduled_tasks_required:
    description: Whether a host without scheduled tasks has a problem (V(false) reports it as information).
    type: bool
    default: true
  time_max_offset:
    description: Largest offset (seconds) of the system clock from NTP time that counts as synchronised.
    type: float
    default: 1.0
  http_date_max_skew:
    description: Largest difference (seconds) between MISP's HTTP C(Date) header and the host's clock.
    type: float
    default: 5.0
  mail_queue_max:
    description: Number of messages waiting in Postfix's maildrop, deferred and hold queues that is still fine.
    type: int
    default: 0
  expect_emailing:
    description: Whether MISP should send e-mail (C(MISP.disable_emailing) true is then a problem).
    type: bool
    default: true
  php_settings_status:
    description: Status of PHP settings below MISP's recommendation.
    type: str
    choices: [warn, problem]
    default: warn
  full_diagnostics:
    description:
      - Read MISP's full diagnostic dump (C(GET /servers/serverSettings)) for the PHP settings, Redis, background
        jobs, file permissions, GnuPG and the levels of configLint's findings. It runs MISP's own probes and can
        take a minute; V(false) skips those rows (configLint findings then count as recommended).
    type: bool
    default: true
  diagnostics_timeout:
    description: Seconds to wait for the diagnostic dump.
    type: int
    default: 300
  previous:
    description: Rows of an earlier run (before repairs); problems gone now are reported as C(fixed).
    type: list
    elements: dict
  done:
    description: What the repairs did, by action (V(restart_workers), V(rearm_scheduled_tasks)...).
    type: dict
"""

EXAMPLES = r"""
- name: Examine MISP
  mispops.misp.misp_doctor_check:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_api_key }}"
    host_name: "{{ inventory_hostname }}"
  register: doctor

- name: Show the table
  ansible.builtin.debug:
    msg: "{{ doctor.table }}"
"""

RETURN = r"""
rows:
  description: One row per check (area, check, status ok/info/warn/problem/fixed, detail, fix, action, done).
  returned: always
  type: list
  elements: dict
report:
  description: The JSON report (host, generated_at, mode, misp_version, healthy, summary, problems, rows).
  returned: always
  type: dict
table:
  description: The report as a plain-text table.
  returned: always
  type: str
actions:
  description: Repairs the doctor may make for the problems found (for role misp_doctor).
  returned: always
  type: list
  elements: str
healthy:
  description: No row has status C(problem).
  returned: always
  type: bool
facts:
  description: What was gathered (no secrets), for debugging.
  returned: always
  type: dict
"""

import email.utils
import json
import os
import socket
import time

from ansible_collections.mispops.misp.plugins.module_utils import misp_doctor as doc
from ansible_collections.mispops.misp.plugins.module_utils.misp_client import MispApiError
from ansible_collections.mispops.misp.plugins.module_utils.misp_module import MispManager, run_module, unwrap_list
from ansible_collections.mispops.misp.plugins.module_utils.misp_sync import classify_connection_test

ARGUMENT_SPEC = dict(
    areas=dict(type="list", elements="str", choices=list(doc.AREAS), default=list(doc.AREAS)),
    host_name=dict(type="str", required=True),
    mode=dict(type="str", choices=["report", "fix", "check"], default="report"),
    misp_root=dict(type="path", default="/var/www/MISP"),
    misp_user=dict(type="str", default="www-data"),
    supervisor_group=dict(type="str", default="misp-workers"),
    scheduled_task_tool=dict(type="path", default="/usr/local/sbin/misp-scheduled-task"),
    scheduled_tasks_required=dict(type="bool", default=True),
    time_max_offset=dict(type="float", default=1.0),
    http_date_max_skew=dict(type="float", default=5.0),
    mail_queue_max=dict(type="int", default=0),
    expect_emailing=dict(type="bool", default=True),
    php_settings_status=dict(type="str", choices=["warn", "problem"], default="warn"),
    full_diagnostics=dict(type="bool", default=True),
    diagnostics_timeout=dict(type="int", default=300),
    previous=dict(type="list", elements="dict"),
    done=dict(type="dict"),
)

POSTFIX_QUEUES = ("maildrop", "incoming", "active", "deferred", "hold")
GPG_STATUS = {
    0: "OK",
    1: "settings not set",
    2: "cannot load GnuPG",
    3: "key or passphrase problem",
    4: "signing failed",
}


class Host:
    """The host the module runs on: commands, files, sockets (replaced by a fake in unit tests)."""

    def __init__(self, module):
        self.module = module

    def run(self, argv):
        rc, out, err = self.module.run_command(argv, check_rc=False)
        return rc, out, err

    def which(self, name):
        return self.module.get_bin_path(name, required=False)

    def exists(self, path):
        return os.path.exists(path)

    def count_files(self, path):
        total = 0
        for _root, _dirs, files in os.walk(path):
            total += len(files)
        return total

    def tcp(self, host, port, timeout=5):
        try:
            with socket.create_connection((host, port), timeout=timeout):
                return True, None
        except OSError as e:
            return False, str(e)

    def now(self):
        return time.time()


def php_settings_from(diag):
    """MISP's phpSettings section -> [{"name", "value", "recommended", "ok"}]."""
    out = []
    for name, info in sorted((diag.get("phpSettings") or {}).items()):
        if not isinstance(info, dict):
            continue
        value, recommended = info.get("value"), info.get("recommended")
        ok = True
        if isinstance(value, (int, float)) and isinstance(recommended, (int, float)):
            # -1 means unlimited (memory_limit, max_execution_time 0 too).
            ok = value in (-1, 0) and name in ("memory_limit", "max_execution_time") or value >= recommended
        out.append({"name": name, "value": value, "recommended": recommended, "ok": ok, "unit": info.get("unit")})
    return out


class Doctor(MispManager):
    def __init__(self, module, client, host=None):
        super().__init__(module, client)
        self.host = host or Host(module)
        self.facts = {}
        self._diag = None
        self._settings = {}

    # -- MISP reads shared by several areas ----------------------------------------------
    def diagnostics(self):
        """The full diagnostic dump, read once (heavy), or {} when it cannot be read."""
        if self._diag is None:
            if not self.params["full_diagnostics"]:
                self._diag = {}
                return self._diag
            # The dump runs MISP's own probes: it can take a minute; no retry on a timeout.
            timeout, retries = self.client.timeout, self.client.retries
            self.client.timeout, self.client.retries = max(timeout, self.params["diagnostics_timeout"]), 0
            try:
                data = self.client.get("/servers/serverSettings")
                self._diag = data if isinstance(data, dict) else {}
            except MispApiError as e:
                self.facts.setdefault("errors", {})["diagnostics"] = str(e)
                self._diag = {}
            finally:
                self.client.timeout, self.client.retries = timeout, retries
        return self._diag

    def setting(self, name):
        if name not in self._settings:
            value = None
            for s in self.diagnostics().get("finalSettings") or []:
                if isinstance(s, dict) and s.get("setting") == name:
                    value = s.get("value")
                    break
            else:
                try:
                    value = (self.client.get(f"/servers/getSetting/{name}") or {}).get("value")
                except MispApiError as e:
                    self.facts.setdefault("errors", {})[name] = str(e)
            self._settings[name] = value
        return self._settings[name]

    def cake(self, *args):
        cake = os.path.join(self.params["misp_root"], "app/Console/cake")
        return self.host.run(["runuser", "-u", self.params["misp_user"], "--", cake, *args])

    # -- areas ---------------------------------------------------------------------------
    def gather_sync(self):
        links = []
        for server in unwrap_list(self.client.get("/servers/index"), "Server"):
            try:
                answer = self.client.post(f"/servers/testConnection/{server['id']}")
                conn = classify_connection_test(answer)
            except MispApiError as e:
                conn = classify_connection_test(None, http_status=e.status, error=str(e))
            links.append(
                {
                    "id": server.get("id"),
                    "name": server.get("name"),
                    "url": server.get("url"),
                    "pull": server.get("pull"),
                    "push": server.get("push"),
                    "connection": conn,
                }
            )
        self.facts["sync"] = links
        return doc.check_sync(links)

    def gather_workers(self):
        try:
            misp_view = self.client.get("/servers/getWorkers")
        except MispApiError as e:
            self.facts.setdefault("errors", {})["workers"] = str(e)
            misp_view = None
        supervisor = None
        if self.host.which("supervisorctl"):
            rc, out, _err = self.host.run(["supervisorctl", "status"])
            # rc 3: some process not running (the lines say which); 4 and others: supervisord unreachable.
            supervisor = doc.parse_supervisor_status(out, self.params["supervisor_group"]) if rc in (0, 3) else {}
        self.facts["workers"] = {"misp": misp_view, "supervisor": supervisor}
        return doc.check_workers(misp_view, supervisor, self.params["supervisor_group"])

    def gather_scheduled_tasks(self):
        tool = self.params["scheduled_task_tool"]
        found = self.host.exists(tool)
        tasks = []
        if found:
            # Exit 1 means "some task needs attention" and still prints the JSON.
            rc, out, err = self.host.run([tool, "status", "--json"])
            try:
                tasks = doc.parse_scheduled_tasks(out)
            except ValueError:
                self.facts["scheduled_tasks"] = {"error": err or out}
                return [
                    doc.row(
                        "scheduled_tasks",
                        "scheduled tasks",
                        doc.PROBLEM,
                        f"{tool} status failed (exit {rc}): {(err or out).strip()[:200]}",
                        fix=doc.FIX_SCHEDULED,
                    )
                ]
        self.facts["scheduled_tasks"] = tasks
        return doc.check_scheduled_tasks(
            tasks, self.host.now(), tool_found=found, required=self.params["scheduled_tasks_required"]
        )

    def gather_time(self):
        facts = {}
        if self.host.which("chronyc"):
            facts["implementation"] = "chrony"
            # Debian names the unit chrony, Red Hat chronyd.
            units = ("/lib/systemd/system/chrony.service", "/usr/lib/systemd/system/chrony.service")
            facts["service"] = "chrony" if any(self.host.exists(u) for u in units) else "chronyd"
            _rc, out, _err = self.host.run(["systemctl", "is-active", facts["service"]])
            facts["active"] = out.strip() == "active"
            rc, out, _err = self.host.run(["chronyc", "-c", "tracking"])
            facts["tracking"] = doc.parse_chronyc_tracking(out) if rc == 0 else None
            rc, out, _err = self.host.run(["chronyc", "-c", "sources"])
            facts["sources"] = doc.parse_chronyc_sources(out) if rc == 0 else []
        elif self.host.which("timedatectl") and self.host.exists("/lib/systemd/systemd-timesyncd"):
            facts["implementation"] = "systemd-timesyncd"
            facts["service"] = "systemd-timesyncd"
            rc, out, _err = self.host.run(["systemctl", "is-active", "systemd-timesyncd"])
            facts["active"] = out.strip() == "active"
            rc, out, _err = self.host.run(["timedatectl", "show"])
            facts["timedatectl"] = doc.parse_timedatectl(out)
        else:
            facts["implementation"] = None
        if self.host.which("timedatectl"):
            rc, out, _err = self.host.run(["timedatectl", "show", "-p", "Timezone", "--value"])
            facts["timezone"] = out.strip() if rc == 0 else None
        # MISP's clock: the Date header of a fresh answer against this host's clock.
        try:
            self.client.get("/servers/getVersion")
            received = self.host.now()
            date = {k.lower(): v for k, v in (self.client.last_headers or {}).items()}.get("date")
            facts["http_date"] = date
            if date:
                # Date has whole seconds, truncated: add half a second to centre the estimate.
                facts["http_date_skew"] = round(email.utils.parsedate_to_datetime(date).timestamp() + 0.5 - received, 1)
        except (MispApiError, TypeError, ValueError) as e:
            self.facts.setdefault("errors", {})["http_date"] = str(e)
        self.facts["time"] = facts
        return doc.check_time(facts, self.params["time_max_offset"], self.params["http_date_max_skew"])

    def gather_mail(self):
        facts = {"postfix_installed": bool(self.host.which("postconf"))}
        if facts["postfix_installed"]:
            rc, out, _err = self.host.run(["systemctl", "is-active", "postfix"])
            facts["postfix_active"] = out.strip() == "active"
            rc, out, _err = self.host.run(["postconf", "-h", "queue_directory"])
            spool = out.strip() or "/var/spool/postfix"
            facts["queue"] = {q: self.host.count_files(os.path.join(spool, q)) for q in POSTFIX_QUEUES}
            rc, out, _err = self.host.run(["postconf", "-h", "relayhost"])
            relay = doc.parse_relayhost(out)
            if relay:
                reachable, error = self.host.tcp(*relay)
                facts["relay"] = {"host": relay[0], "port": relay[1], "reachable": reachable, "error": error}
            else:
                facts["relay"] = None
        disabled = self.setting("MISP.disable_emailing")
        facts["disable_emailing"] = doc._bool(disabled) if disabled is not None else None
        try:
            users = unwrap_list(self.client.get("/admin/users/index"), "User")
            facts["alert_users"] = sorted(
                u.get("email") for u in users if doc._bool(u.get("autoalert")) and not doc._bool(u.get("disabled"))
            )
        except MispApiError as e:
            self.facts.setdefault("errors", {})["users"] = str(e)
            facts["alert_users"] = None
        facts["gpg_sign"] = doc._bool(self.setting("GnuPG.sign"))
        # gpgStatus: "OK" / "FAIL: <reason>" in 2.5.1, a number (0 = OK) or {"status": n} elsewhere.
        gpg = self.diagnostics().get("gpgStatus")
        if isinstance(gpg, dict):
            gpg = gpg.get("status")
        if isinstance(gpg, str) and not gpg.strip().lstrip("-").isdigit():
            facts["gpg_status"] = 0 if gpg.strip().upper().startswith("OK") else 1
            facts["gpg_status_text"] = gpg
        else:
            facts["gpg_status"] = doc._int(gpg)
            facts["gpg_status_text"] = GPG_STATUS.get(facts["gpg_status"])
        self.facts["mail"] = facts
        return doc.check_mail(facts, self.params["mail_queue_max"], self.params["expect_emailing"])

    def gather_diagnostics(self):
        diag = self.diagnostics()
        facts = {}
        levels = {s.get("setting"): s.get("level") for s in diag.get("finalSettings") or [] if isinstance(s, dict)}
        rc, out, err = self.cake("Admin", "configLint")
        if rc == 0:
            lint = doc.parse_config_lint(out)
            for item in lint:
                item["level"] = doc._int(levels.get(item["setting"]), 1)
            facts["config_lint"] = lint
        else:
            self.facts.setdefault("errors", {})["configLint"] = (err or out).strip()[:500]
        try:
            schema = self.client.get("/servers/dbSchemaDiagnostic") or {}
            issues = [
                i for items in (schema.get("diagnostic") or {}).values() if isinstance(items, list) for i in items
            ]
            facts["db_schema"] = {
                "actual_db_version": schema.get("actual_db_version"),
                "expected_db_version": schema.get("expected_db_version"),
                "issues": len(issues),
                "critical_issues": sum(1 for i in issues if doc._bool(i.get("is_critical"))),
                "update_locked": schema.get("update_locked"),
                "error": schema.get("error") or None,
            }
        except MispApiError as e:
            facts["db_schema"] = {"error": str(e)}
        try:
            facts["updates"] = self.client.get("/servers/updateProgress") or {}
        except MispApiError as e:
            self.facts.setdefault("errors", {})["updates"] = str(e)
        redis = diag.get("redisInfo")
        if isinstance(redis, dict):
            ok = doc._bool(redis.get("connection", True)) and not redis.get("error")
            detail = f"Redis {redis.get('redis_version') or redis.get('version') or ''}".strip()
            if redis.get("used_memory_human"):
                detail += f", {redis['used_memory_human']} used"
            facts["redis"] = {"ok": ok, "detail": detail if ok else redis.get("error") or "not reachable"}
        facts["background_jobs_status"] = diag.get("backgroundJobsStatus")
        if diag.get("phpSettings"):
            facts["php_settings"] = php_settings_from(diag)
        if diag:
            # Codes: 0 fine, 1 missing, 2 not writable (readable). A missing .git file only matters for
            # MISP's git self-update, which an install from a bundle does not have.
            facts["unwritable"] = sorted(
                path
                for key in ("writeableDirs", "writeableFiles", "readableFiles")
                for path, info in (diag.get(key) or {}).items()
                if (code := (doc._int(info.get("error"), 0) if isinstance(info, dict) else doc._int(info, 0)))
                and not (code == 1 and "/.git/" in path)
            )
        self.facts["diagnostics"] = facts
        status = doc.PROBLEM if self.params["php_settings_status"] == "problem" else doc.WARN
        return doc.check_diagnostics(facts, php_settings_level=status)

    # -- run -----------------------------------------------------------------------------
    def run(self):
        p = self.params
        rows = []
        version = None
        try:
            version = (self.client.get("/servers/getVersion") or {}).get("version")
        except MispApiError as e:
            rows.append(
                doc.row(
                    "diagnostics",
                    "MISP API",
                    doc.PROBLEM,
                    f"MISP does not answer: {e}",
                    fix="Check the web server and PHP-FPM (systemctl status apache2 php*-fpm) and the API key.",
                )
            )
        for area in doc.AREAS:
            if area not in p["areas"]:
                continue
            try:
                rows.extend(getattr(self, f"gather_{area}")())
            except MispApiError as e:
                rows.append(doc.row(area, area, doc.PROBLEM, f"could not be examined: {e}"))
        if p["previous"] is not None:
            rows = doc.merge_fixed(p["previous"], rows, p["done"] or {})
        now = self.host.now()
        report = doc.build_report(
            p["host_name"], rows, now, p["mode"], misp_version=version, done=p["done"], before=p["previous"]
        )
        return {
            "changed": False,
            "rows": rows,
            "report": report,
            "table": doc.render_table(report),
            "actions": doc.needed_actions(rows),
            "healthy": report["healthy"],
            "facts": json.loads(json.dumps(self.facts, default=str)),
        }


def main():
    run_module(Doctor, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
