# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Benchmark callback: writes every task's wall time, role, status and MISP API calls to a JSON file.

Enabled only by bench/run, through the environment:
  ANSIBLE_CALLBACK_PLUGINS=bench/callback_plugins ANSIBLE_CALLBACKS_ENABLED=bench_timing
  BENCH_TIMING_FILE=<path of the JSON file to write>
A task's wall time runs from its start to the start of the next task (as ansible.posix.profile_tasks
measures it), so it includes the controller's own work for that task. ``api_calls`` is the sum of the
``api_calls`` the mispops.misp modules return, over the loop items of a task.
"""

from __future__ import annotations

import json
import os
import time

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = r"""
name: bench_timing
type: aggregate
short_description: Per-task timings and MISP API call counts as JSON, for bench/run
description:
  - Writes the file named by the BENCH_TIMING_FILE environment variable at the end of the playbook.
requirements:
  - enable it in ANSIBLE_CALLBACKS_ENABLED
"""


def _api_calls(result: dict) -> int | None:
    if "api_calls" in result:
        return int(result["api_calls"])
    items = result.get("results")
    if isinstance(items, list):
        calls = [int(r["api_calls"]) for r in items if isinstance(r, dict) and "api_calls" in r]
        if calls:
            return sum(calls)
    return None


def _changed_items(result: dict) -> int:
    items = result.get("results")
    if isinstance(items, list):
        return sum(1 for r in items if isinstance(r, dict) and r.get("changed"))
    return 1 if result.get("changed") else 0


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "bench_timing"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self) -> None:
        super().__init__()
        self._start = time.time()
        self._tasks: list[dict] = []
        self._current: dict | None = None
        self._play = ""

    # --- task boundaries ---

    def _close_current(self) -> None:
        if self._current is not None:
            self._current["seconds"] = round(time.time() - self._current.pop("_t0"), 3)
            self._tasks.append(self._current)
            self._current = None

    def _open(self, task, handler: bool) -> None:
        self._close_current()
        role = task._role.get_name() if task._role else ""
        self._current = {
            "play": self._play,
            "role": role,
            "task": task.get_name().strip(),
            "action": task.action,
            "handler": handler,
            "path": task.get_path() or "",
            "hosts": {},
            "_t0": time.time(),
        }

    def v2_playbook_on_play_start(self, play) -> None:
        self._close_current()
        self._play = play.get_name().strip()

    def v2_playbook_on_task_start(self, task, is_conditional) -> None:
        self._open(task, handler=False)

    def v2_playbook_on_handler_task_start(self, task) -> None:
        self._open(task, handler=True)

    # --- results ---

    def _record(self, result, status: str) -> None:
        if self._current is None:
            return
        res = result._result if isinstance(result._result, dict) else {}
        entry = {"status": status, "changed": bool(res.get("changed")) and status == "ok"}
        if entry["changed"]:
            entry["changed_items"] = _changed_items(res)
        calls = _api_calls(res)
        if calls is not None:
            entry["api_calls"] = calls
        self._current["hosts"][result._host.get_name()] = entry

    def v2_runner_on_ok(self, result) -> None:
        self._record(result, "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False) -> None:
        self._record(result, "ignored" if ignore_errors else "failed")

    def v2_runner_on_skipped(self, result) -> None:
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result) -> None:
        self._record(result, "unreachable")

    # --- end ---

    def v2_playbook_on_stats(self, stats) -> None:
        self._close_current()
        path = os.environ.get("BENCH_TIMING_FILE")
        if not path:
            return
        hosts = sorted(stats.processed.keys())
        data = {
            "seconds": round(time.time() - self._start, 3),
            "stats": {h: stats.summarize(h) for h in hosts},
            "tasks": self._tasks,
        }
        with open(path, "w", encoding="utf-8") as f:
            json.dump(data, f, indent=1)
