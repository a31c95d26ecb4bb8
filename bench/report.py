#!/usr/bin/env python3
"""Turns the raw figures of one bench/run (its work directory) into results.json and RESULTS.md.

usage: bench/report.py WORK_DIR OUT_DIR
"""

from __future__ import annotations

import json
import re
import sys
from collections import defaultdict
from pathlib import Path

API_TYPES = {
    "mispops.misp.misp_organisation": "organisations",
    "mispops.misp.misp_user": "users",
    "mispops.misp.misp_sharing_group": "sharing groups",
    "mispops.misp.misp_feed": "feeds",
    "mispops.misp.misp_authkey": "API keys",
}
TYPE_ORDER = ["organisations", "users", "sharing groups", "feeds", "API keys"]


def load_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def phases(work: Path) -> dict:
    samples = []
    if (work / "load.txt").exists():
        for line in (work / "load.txt").read_text().splitlines():
            parts = line.split()
            if len(parts) == 2:
                samples.append((float(parts[0]), float(parts[1])))
    out = {}
    for line in (work / "phases.tsv").read_text().splitlines():
        name, seconds, rc, load_before, load_after, t0, t1, cpu_container, cpu_controller = line.split("\t")
        inside = [v for t, v in samples if float(t0) <= t <= float(t1)]
        out[name] = {
            "seconds": float(seconds),
            "rc": int(rc),
            "load_before": load_before,
            "load_after": load_after,
            "load_mean": round(sum(inside) / len(inside), 1) if inside else None,
            "cpu_container": float(cpu_container or 0),
            "cpu_controller": float(cpu_controller or 0),
        }
    return out


def machine(work: Path) -> dict:
    env = {}
    for line in (work / "machine.env").read_text().splitlines():
        key, _, value = line.partition("=")
        env[key] = value
    return env


def baseline_steps(work: Path) -> dict:
    steps = {}
    log = work / "baseline.log"
    if log.exists():
        for m in re.finditer(r"^STEP (\S+) ([0-9.]+)$", log.read_text(), re.M):
            steps[m.group(1)] = float(m.group(2))
    return steps


def label(task: dict) -> str:
    """role : task (Ansible's task names already carry the role's name)."""
    role, name = task["role"], task["task"]
    return name if not role or name.startswith(role + " : ") else f"{role} : {name}"


def bucket(task: dict) -> str:
    if task["action"] in ("gather_facts", "ansible.builtin.gather_facts", "setup", "ansible.builtin.setup"):
        return "(fact gathering)"
    return task["role"] or f"(play: {task['play']})"


def run_summary(data: dict | None, top: int = 15) -> dict | None:
    if not data:
        return None
    per_role: dict[str, float] = defaultdict(float)
    per_role_tasks: dict[str, int] = defaultdict(int)
    for t in data["tasks"]:
        per_role[bucket(t)] += t["seconds"]
        per_role_tasks[bucket(t)] += 1
    stats = {"ok": 0, "changed": 0, "failures": 0, "unreachable": 0, "skipped": 0, "rescued": 0, "ignored": 0}
    for host_stats in data["stats"].values():
        for key in stats:
            stats[key] += host_stats.get(key, 0)
    changed = [label(t) for t in data["tasks"] if any(h.get("changed") for h in t["hosts"].values())]
    failed = [label(t) for t in data["tasks"] if any(h.get("status") == "failed" for h in t["hosts"].values())]
    slowest = sorted(data["tasks"], key=lambda t: -t["seconds"])[:top]
    return {
        "callback_seconds": data["seconds"],
        "tasks": len(data["tasks"]),
        "stats": stats,
        "changed_tasks": changed,
        "failed_tasks": failed,
        "per_role": [
            {"role": r, "seconds": round(s, 1), "tasks": per_role_tasks[r]}
            for r, s in sorted(per_role.items(), key=lambda kv: -kv[1])
        ],
        "slowest_tasks": [
            {
                "task": label(t),
                "seconds": round(t["seconds"], 1),
                "status": ",".join(sorted({h.get("status", "?") for h in t["hosts"].values()})) or "-",
                "changed": any(h.get("changed") for h in t["hosts"].values()),
            }
            for t in slowest
        ],
    }


def completed_fresh(work: Path, ph: dict) -> tuple[dict | None, float | None]:
    """When the fresh site.yml run stopped on a failure and a completion run (site-completion.json)
    followed, the fresh run's tasks plus the completion run's tasks from the play that failed onward:
    the fresh provision as it would have been. Returns that timing data and its wall time."""
    fresh, rest = load_json(work / "site.json"), load_json(work / "site-completion.json")
    if not fresh or not rest or "site" not in ph:
        return None, None
    failed = [t for t in fresh["tasks"] if any(h.get("status") == "failed" for h in t["hosts"].values())]
    if not failed:
        return None, None
    play = failed[0]["play"]
    start = next((i for i, t in enumerate(rest["tasks"]) if t["play"] == play), None)
    if start is None:
        return None, None
    cut = fresh["tasks"].index(failed[0])
    tail = rest["tasks"][start:]
    stats = {h: dict(v) for h, v in rest["stats"].items()}
    for h in stats:
        stats[h]["changed"] = sum(1 for t in fresh["tasks"][:cut] + tail if t["hosts"].get(h, {}).get("changed"))
        stats[h]["failures"] = 0
    data = {
        "seconds": fresh["seconds"] + sum(t["seconds"] for t in tail),
        "stats": stats,
        "tasks": fresh["tasks"][:cut] + tail,
    }
    return data, ph["site"]["seconds"] + sum(t["seconds"] for t in tail)


def api_summary(data: dict | None) -> dict | None:
    if not data:
        return None
    per_type: dict[str, dict] = {}
    for t in data["tasks"]:
        kind = API_TYPES.get(t["action"]) or API_TYPES.get("mispops.misp." + t["action"])
        if not kind:
            continue
        entry = per_type.setdefault(kind, {"calls": 0, "tasks": 0, "changed": 0})
        for h in t["hosts"].values():
            if "api_calls" in h:
                entry["calls"] += h["api_calls"]
                entry["tasks"] += 1
            entry["changed"] += h.get("changed_items", 0)
    return {"per_type": per_type, "run": run_summary(data, top=5)}


def fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0f}"


def main() -> None:
    work, out = Path(sys.argv[1]), Path(sys.argv[2])
    ph = phases(work)
    result: dict = {"machine": machine(work), "phases": ph, "baseline_steps": baseline_steps(work)}
    for name in ("site", "site-completion", "noop", "check"):
        result[name] = run_summary(load_json(work / f"{name}.json"))
    combined, combined_s = completed_fresh(work, ph)
    result["fresh"] = run_summary(combined) if combined else result["site"]
    result["fresh_seconds"] = round(combined_s, 1) if combined else ph.get("site", {}).get("seconds")
    result["fresh_note"] = (
        "site.yml stopped on a failure; the fresh figures add the completion run's tasks from the failed play on"
        if combined
        else ""
    )
    pkgs = {}
    for name in ("image", "site"):
        f = work / f"{name}-packages.txt"
        pkgs[name] = f.read_text().split() if f.exists() else []
    listed = work / "baseline-packages.txt"
    baseline_pkgs = listed.read_text().split() if listed.exists() else []
    role_installed = sorted(set(pkgs["site"]) - set(pkgs["image"]))
    result["packages"] = {
        "baseline": baseline_pkgs,
        "installed_by_site_not_in_baseline": sorted(set(role_installed) - set(baseline_pkgs)),
        "in_baseline_not_installed_by_site": sorted(set(baseline_pkgs) - set(role_installed)),
    }
    counts = sorted({int(m.group(1)) for p in ph for m in [re.match(r"api-(\d+)-", p)] if m})
    result["api"] = {
        str(n): {
            kind: api_summary(load_json(work / f"api-{n}-{kind}.json"))
            for kind in ("create", "noop-roles", "noop-list")
        }
        for n in counts
    }
    site_s = result["fresh_seconds"]
    base_s = ph.get("baseline", {}).get("seconds")
    result["ratio_site_to_baseline"] = round(site_s / base_s, 2) if site_s and base_s else None
    site_cpu = sum(ph.get("site", {}).get(k, 0) for k in ("cpu_container", "cpu_controller"))
    base_cpu = sum(ph.get("baseline", {}).get(k, 0) for k in ("cpu_container", "cpu_controller"))
    result["cpu_ratio_site_to_baseline"] = round(site_cpu / base_cpu, 2) if site_cpu and base_cpu else None
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1) + "\n")
    (out / "RESULTS.md").write_text(markdown(result, counts))


def markdown(r: dict, counts: list[int]) -> str:
    m, ph = r["machine"], r["phases"]
    lines = ["# Benchmark results (bench/run)", ""]
    lines += [
        f"Run of {m.get('date_utc')} on git {m.get('git_head')};"
        f" bundle `{m.get('bundle')}`, wheels `{m.get('wheels')}`.",
        "Raw figures: [results.json](results.json). Regenerate with "
        "`MISP_BUNDLE=... bench/run` (about 10 min on the idle machine below; several times that under load).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPUs (nproc) | {m.get('nproc')} ({m.get('cpu')}) |",
        f"| memory | {int(m.get('mem_total_kib', '0')) / 1048576:.1f} GiB |",
        f"| kernel (uname -r) | {m.get('kernel')} |",
        f"| OS | {m.get('os')}, Docker {m.get('docker')}, {m.get('ansible_core')} |",
        f"| load average (1/5/15 min) at start / end | {m.get('load_start')} / {m.get('load_end')} |",
        f"| ansible.cfg | pipelining={m.get('ansible_cfg_pipelining')}, gathering={m.get('ansible_cfg_gathering')} |",
        "",
        "Nothing else ran on the machine unless the load averages per phase say so (two cores: a load",
        "above 2 means the run waited for CPU); the figures are one run, not a mean.",
        "",
        "## Summary",
        "",
        "| measure | value | target |",
        "|---|---|---|",
    ]
    site, noop, check = r["fresh"], r["noop"], r["check"]
    ratio = r["ratio_site_to_baseline"]
    noop_seconds, baseline_seconds = ph.get("noop", {}).get("seconds"), ph.get("baseline", {}).get("seconds")
    noop_ratio = round(noop_seconds / baseline_seconds, 2) if noop_seconds and baseline_seconds else None
    note = " (*)" if r["fresh_note"] else ""
    lines += [
        f"| fresh provision, site.yml (bare container to working MISP) | {fmt(r['fresh_seconds'])} s{note}"
        f" (changed {site['stats']['changed'] if site else 'n/a'}) | |",
        f"| MISP answers https://bench-misp/users/login | rc {ph.get('working', {}).get('rc')} | 0 |",
        f"| baseline, bench/baseline.sh | {fmt(ph.get('baseline', {}).get('seconds'))} s"
        f" (rc {ph.get('baseline', {}).get('rc')}) | |",
        "| ratio site.yml / baseline (the tool's overhead), wall time |"
        f" {ratio if ratio is not None else 'n/a'} | ≤ 1.3 |",
        f"| same ratio in CPU seconds (container + controller) | {r['cpu_ratio_site_to_baseline'] or 'n/a'}"
        f"{' (site phase only, see *)' if note else ''} | |",
        f"| no-op re-run of site.yml | {fmt(ph.get('noop', {}).get('seconds'))} s, "
        f"{noop['stats']['changed'] if noop else 'n/a'} changed | ≤ 60 s, 0 changed |",
        # The same machine-independent yardstick as the ratio above: a slower machine slows both.
        f"| no-op re-run / baseline, wall time (for comparing runs on different machines) |"
        f" {noop_ratio if noop_ratio is not None else 'n/a'} | |",
        f"| check-mode run of site.yml | {fmt(ph.get('check', {}).get('seconds'))} s, "
        f"{check['stats']['changed'] if check else 'n/a'} changed | |",
        "",
        *(
            [
                f"(*) {r['fresh_note']}: the fresh site phase's wall time {fmt(ph['site']['seconds'])} s plus"
                f" {fmt(r['fresh_seconds'] - ph['site']['seconds'])} s of those tasks (phase site-completion).",
                "",
            ]
            if note
            else []
        ),
        "## Phases",
        "",
        "Baseline and site.yml ran side by side, each in its own fresh container. CPU seconds: the container's",
        "(cgroup) and the controller's (the command and its children: ansible-playbook, docker CLI).",
        "",
        "| phase | wall s | rc | CPU s container | CPU s controller | mean load | load before | load after |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, p in ph.items():
        lines.append(
            f"| {name} | {p['seconds']:.1f} | {p['rc']} | {p['cpu_container']:.0f} | {p['cpu_controller']:.0f} |"
            f" {p['load_mean']} | {p['load_before']} | {p['load_after']} |"
        )
    lines += ["", "## Baseline steps (bench/baseline.sh)", "", "| step | seconds |", "|---|---|"]
    for name, s in r["baseline_steps"].items():
        lines.append(f"| {name} | {s:.1f} |")
    pk = r["packages"]
    lines += [
        "",
        f"Packages (one apt transaction): `{' '.join(pk['baseline'])}`.",
        "Installed by site.yml but not in the baseline list: "
        f"{', '.join(pk['installed_by_site_not_in_baseline']) or 'none'};"
        f" in the list but not installed by site.yml: {', '.join(pk['in_baseline_not_installed_by_site']) or 'none'}.",
    ]
    for name, title in (("fresh", "Fresh provision"), ("noop", "No-op re-run"), ("check", "Check mode")):
        s = r[name]
        if not s:
            lines += ["", f"## {title}: no timing data", ""]
            continue
        lines += [
            "",
            f"## {title}: per role",
            "",
            f"{s['tasks']} tasks; ok {s['stats']['ok']}, changed {s['stats']['changed']},"
            f" failed {s['stats']['failures']}, skipped {s['stats']['skipped']}.",
            "",
            "| role | seconds | tasks |",
            "|---|---|---|",
        ]
        lines += [f"| {x['role']} | {x['seconds']:.1f} | {x['tasks']} |" for x in s["per_role"]]
        lines += ["", f"### {title}: slowest tasks", "", "| task | seconds | status |", "|---|---|---|"]
        lines += [
            f"| {x['task']} | {x['seconds']:.1f} | {x['status']}{' changed' if x['changed'] else ''} |"
            for x in s["slowest_tasks"]
        ]
        if name != "fresh" and s["changed_tasks"]:
            lines += ["", "Changed: " + "; ".join(s["changed_tasks"])]
        if s["failed_tasks"]:
            lines += ["", "Failed: " + "; ".join(s["failed_tasks"])]
    lines += [
        "",
        "## HTTP calls to MISP in a no-op configuration run",
        "",
        "N each of organisations, users, sharing groups and custom feeds (bench/objects.py) are created by",
        "bench/playbooks/api-list-mode.yml (create: one list-mode module task per type); then the same configuration",
        "runs again through the roles misp_community and misp_feeds (noop-roles, bench/playbooks/api-roles.yml,",
        "as an inventory would run it) and in list mode (noop-list). Both are no-op runs.",
        "Calls are the sum of the modules' `api_calls` per object type.",
        "",
        "| objects per type | run | " + " | ".join(TYPE_ORDER) + " | seconds | changed |",
        "|---|---|" + "---|" * (len(TYPE_ORDER) + 2),
    ]
    for n in counts:
        for kind in ("create", "noop-roles", "noop-list"):
            a = r["api"][str(n)][kind]
            if not a:
                lines.append(f"| {n} | {kind} | no data |" + " |" * (len(TYPE_ORDER) + 1))
                continue
            cells = [str(a["per_type"][t]["calls"]) if t in a["per_type"] else "-" for t in TYPE_ORDER]
            secs = ph.get(f"api-{n}-{kind}", {}).get("seconds")
            changed = a["run"]["stats"]["changed"] if a["run"] else "n/a"
            lines.append(f"| {n} | {kind} | " + " | ".join(cells) + f" | {fmt(secs)} | {changed} |")
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
