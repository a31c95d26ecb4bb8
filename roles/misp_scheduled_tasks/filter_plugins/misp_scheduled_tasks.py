"""Filters of role misp_scheduled_tasks. The cron parser is the one the host runs: files/misp-scheduled-task,
imported by path, so preflight and the wrapper never disagree about a schedule."""

import datetime
import importlib.machinery
import importlib.util
import os

_SCRIPT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "files", "misp-scheduled-task")


def _script():
    loader = importlib.machinery.SourceFileLoader("misp_scheduled_task_for_ansible", _SCRIPT)
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def schedule_error(expression):
    """'' for a cron expression cron accepts and that fires, else why not."""
    return _script().schedule_error(str(expression))


def schedule_interval(expression):
    """Seconds between runs when the schedule repeats at a fixed interval (MISP's task scheduler), else 0."""
    module = _script()
    try:
        return module.CronSchedule(str(expression)).fixed_interval(datetime.datetime.now()) or 0
    except module.CronError:
        return 0


def entries(tasks, kinds, cake, user_id, method):
    """The tasks file's entries: {name, schedule, command, enabled, kind, method[, scheduler]} per task."""
    result = []
    for task in tasks:
        kind = kinds.get(task.get("kind")) or {}
        values = {
            "uid": int(user_id),
            "technique": task.get("technique", "full"),
            "scope": task.get("scope", "all"),
        }
        entry = {
            "name": task["name"],
            "schedule": " ".join(str(task["schedule"]).split()),
            "command": f"{cake} {kind.get('cake', '').format(**values)}".strip(),
            "enabled": bool(task.get("enabled", True)),
            "kind": task.get("kind"),
            "method": method,
        }
        if method == "scheduler" and kind.get("scheduler"):
            scheduler = dict(kind["scheduler"])
            scheduler["params"] = scheduler["params"].format(**values)
            scheduler["timer"] = schedule_interval(entry["schedule"])
            scheduler["user_id"] = int(user_id)
            entry["scheduler"] = scheduler
        result.append(entry)
    return result


class FilterModule:
    def filters(self):
        return {
            "misp_scheduled_tasks_schedule_error": schedule_error,
            "misp_scheduled_tasks_schedule_interval": schedule_interval,
            "misp_scheduled_tasks_entries": entries,
        }
