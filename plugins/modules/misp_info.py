#!/usr/bin/python
# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: misp_info
short_description: Read MISP version, API user, workers, pending updates and diagnostics
version_added: 0.1.0
description:
  - Read-only health information for checks and playbook decisions. Never changes anything,
    so C(changed) is always V(false) and the module runs normally in check mode.
  - Each part in O(gather) costs one request. C(diagnostics) is MISP's full diagnostic dump
    (C(GET /servers/serverSettings)), which is slow (git status, online version check, probes);
    it is off by default.
author:
  - mispops contributors (!UNKNOWN)
extends_documentation_fragment:
  - mispops.misp.misp
  - mispops.misp.misp.read_only
options:
  gather:
    description:
      - Which parts to read.
      - V(version) C(GET /servers/getVersion) (also proves the key works).
      - V(user) C(GET /users/view/me) (who the key belongs to).
      - V(workers) C(GET /servers/getWorkers) (site admin).
      - V(updates) C(GET /servers/updateProgress) (pending database updates).
      - V(db_schema) C(GET /servers/dbSchemaDiagnostic).
      - V(diagnostics) C(GET /servers/serverSettings), summarised.
    type: list
    elements: str
    choices: [version, user, workers, updates, db_schema, diagnostics]
    default: [version, user, workers, updates]
  fail_on_error:
    description:
      - When V(false), a part that fails (for example C(workers) with a non-admin key) is
        reported in RV(errors) instead of failing the task.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Read MISP health
  mispops.misp.misp_info:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
  register: misp

- name: Fail when a worker queue is down
  ansible.builtin.assert:
    that: misp.workers.all_ok
    fail_msg: "Dead MISP worker queues: {{ misp.workers.failed_queues | join(', ') }}"

- name: Full diagnostics (slow)
  mispops.misp.misp_info:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    gather: [diagnostics]
"""

RETURN = r"""
version:
  description: Answer of C(/servers/getVersion).
  returned: when gathered
  type: dict
  sample: {"version": "2.5.1", "perm_sync": false, "uuid": "-"}
user:
  description: The key's user, organisation and role (no secrets).
  returned: when gathered
  type: dict
  sample: {"id": "1", "email": "admin@admin.test", "organisation": "ADMIN", "role": "admin", "site_admin": true}
workers:
  description:
    - Per-queue state and a summary. C(enabled) is false when MISP has background jobs off.
    - A queue counts as failed when it has no live worker running as the right user.
  returned: when gathered
  type: dict
  sample: {"enabled": true, "all_ok": false, "failed_queues": ["email"], "supervisord_status": true,
           "queues": {"default": {"ok": true, "alive": 5, "dead": 0, "job_count": 0}}}
updates:
  description: Database update state; C(complete_update_remaining) 0 means up to date.
  returned: when gathered
  type: dict
  sample: {"db_version": "126", "complete_update_remaining": 0, "update_locked": false,
           "update_fail_number_reached": false}
db_schema:
  description: Database schema summary.
  returned: when gathered
  type: dict
  sample: {"actual_db_version": "126", "expected_db_version": "126", "critical_issues": 0, "issues": 0}
diagnostics:
  description:
    - Summary of the diagnostic dump. C(setting_errors) lists settings of level 0-2 whose
      test fails (name, level, message; no values).
  returned: when gathered
  type: dict
  sample: {"gpg_status": "OK", "background_jobs_status": "OK", "setting_errors": [],
           "unwritable_dirs": [], "version": {"current": "v2.5.1", "upToDate": "same"}}
errors:
  description: Parts that could not be read (only with O(fail_on_error=false)).
  returned: always
  type: dict
"""

from ansible_collections.mispops.misp.plugins.module_utils.misp_client import MispApiError
from ansible_collections.mispops.misp.plugins.module_utils.misp_module import MispManager, run_module, to_bool

PARTS = ["version", "user", "workers", "updates", "db_schema", "diagnostics"]
ARGUMENT_SPEC = dict(
    gather=dict(type="list", elements="str", choices=PARTS, default=["version", "user", "workers", "updates"]),
    fail_on_error=dict(type="bool", default=True),
)
WORKER_META = ("proc_accessible", "controls", "supervisord_status")


def summarise_workers(data):
    if not isinstance(data, dict):
        # ["Background jobs not enabled"] when MISP.background_jobs is off
        return {"enabled": False, "all_ok": False, "failed_queues": [], "queues": {}, "message": data}
    queues = {}
    for name, q in data.items():
        if name in WORKER_META or not isinstance(q, dict):
            continue
        workers = q.get("workers") or []
        alive = sum(1 for w in workers if to_bool(w.get("alive")) and to_bool(w.get("correct_user", True)))
        queues[name] = {
            "ok": bool(to_bool(q.get("ok"))),
            "alive": alive,
            "dead": len(workers) - alive,
            "job_count": q.get("jobCount"),
        }
    failed = sorted(n for n, q in queues.items() if not q["ok"])
    result = {"enabled": True, "queues": queues, "failed_queues": failed}
    result.update({k: data[k] for k in WORKER_META if k in data})
    result["all_ok"] = bool(queues) and not failed and result.get("supervisord_status", True) is not False
    return result


def summarise_user(data):
    user = data.get("User", {}) if isinstance(data, dict) else {}
    role = data.get("Role", {}) if isinstance(data, dict) else {}
    org = data.get("Organisation", {}) if isinstance(data, dict) else {}
    return {
        "id": user.get("id"),
        "email": user.get("email"),
        "org_id": user.get("org_id"),
        "organisation": org.get("name"),
        "role": role.get("name"),
        "site_admin": bool(to_bool(role.get("perm_site_admin"))),
        "sync": bool(to_bool(role.get("perm_sync"))),
        "disabled": bool(to_bool(user.get("disabled"))),
    }


def summarise_updates(data):
    keys = (
        "db_version",
        "complete_update_remaining",
        "update_locked",
        "lock_remaining_time",
        "update_fail_number_reached",
    )
    out = {k: data.get(k) for k in keys if k in data}
    if "complete_update_remaining" in out:
        value = str(out["complete_update_remaining"])
        if value.isdigit():
            out["complete_update_remaining"] = int(value)
    return out


def summarise_db_schema(data):
    diagnostic = data.get("diagnostic") or {}
    issues = [i for items in diagnostic.values() if isinstance(items, list) for i in items]
    return {
        "actual_db_version": data.get("actual_db_version"),
        "expected_db_version": data.get("expected_db_version"),
        "issues": len(issues),
        "critical_issues": sum(1 for i in issues if to_bool(i.get("is_critical"))),
        "update_locked": data.get("update_locked"),
        "error": data.get("error") or None,
    }


def summarise_diagnostics(data):
    settings = data.get("finalSettings") or []
    errors = [
        {"setting": s.get("setting"), "level": s.get("level"), "message": s.get("errorMessage")}
        for s in settings
        if isinstance(s, dict) and to_bool(s.get("error")) and int(s.get("level", 3)) < 3
    ]

    def failing(entries):
        if not isinstance(entries, dict):
            return []
        return sorted(path for path, info in entries.items() if isinstance(info, dict) and info.get("error"))

    return {
        "version": data.get("version"),
        "gpg_status": data.get("gpgStatus"),
        "proxy_status": data.get("proxyStatus"),
        "zmq_status": data.get("zmqStatus"),
        "module_status": data.get("moduleStatus"),
        "background_jobs_status": data.get("backgroundJobsStatus"),
        "setting_errors": errors,
        "critical_setting_errors": sum(1 for e in errors if int(e["level"]) == 0),
        "unwritable_dirs": failing(data.get("writeableDirs")),
        "unwritable_files": failing(data.get("writeableFiles")),
        "unreadable_files": failing(data.get("readableFiles")),
        "workers": summarise_workers(data["workers"]) if data.get("workers") else None,
    }


GATHER = {
    "version": ("/servers/getVersion", lambda d: d),
    "user": ("/users/view/me", summarise_user),
    "workers": ("/servers/getWorkers", summarise_workers),
    "updates": ("/servers/updateProgress", summarise_updates),
    "db_schema": ("/servers/dbSchemaDiagnostic", summarise_db_schema),
    "diagnostics": ("/servers/serverSettings", summarise_diagnostics),
}


class InfoManager(MispManager):
    def run(self):
        result = {"changed": False, "errors": {}}
        for part in dict.fromkeys(self.params["gather"]):  # keep order, drop repeats
            path, summarise = GATHER[part]
            try:
                result[part] = summarise(self.client.get(path))
            except MispApiError as e:
                if self.params["fail_on_error"]:
                    raise
                result["errors"][part] = str(e)
        return result


def main():
    run_module(InfoManager, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
