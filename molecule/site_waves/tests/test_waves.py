"""Waves of site.yml's plays: the order the converge touched the hosts, and a failed first wave.

The converge ran playbooks/time_sync.yml with misp_rollout_serial [1, 2]: waves-milan-1 alone,
then waves-rome-1 and waves-rome-2 together. Each host keeps the times of its first write
(/etc/timezone, chrony's files) and of chronyd's last start (the handler at the end of its wave).
"""

import json
import os
import subprocess
from pathlib import Path

import pytest
import testinfra

testinfra_hosts = ["waves-milan-1"]

FIRST_WAVE = ["waves-milan-1"]
SECOND_WAVE = ["waves-rome-1", "waves-rome-2"]
HOSTS = FIRST_WAVE + SECOND_WAVE
PROJECT = Path(__file__).resolve().parents[3]
PLAYBOOK = PROJECT / "playbooks" / "time_sync.yml"
STAMPS = (
    "python3 -c 'import json, os; print(json.dumps({"
    '"first": min(os.lstat(p).st_mtime for p in ("/etc/timezone", "/etc/default/chrony", "/etc/chrony/chrony.conf")),'
    '"last": os.stat("/run/chrony/chronyd.pid").st_mtime,'
    '"conf": os.stat("/etc/chrony/chrony.conf").st_mtime_ns}))\''
)


def inventory():
    return os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])


def other(name):
    return testinfra.get_host(f"ansible://{name}?ansible_inventory={inventory()}")


def stamps():
    return {name: json.loads(other(name).check_output(STAMPS)) for name in HOSTS}


def record(name, data):
    """Keep the evidence next to Molecule's state and print it into the log (verifier option -s)."""
    print(f"\n[evidence] {name}: {json.dumps(data)}")
    directory = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    if directory:
        Path(directory, name).write_text(json.dumps(data, indent=2) + "\n")


def test_first_wave_finished_before_the_second_started():
    seen = stamps()
    order = sorted(HOSTS, key=lambda name: seen[name]["first"])
    record("wave-order.json", {"order": order, "stamps": seen})
    assert order[0] == "waves-milan-1", seen
    for name in SECOND_WAVE:
        assert seen[name]["first"] > seen["waves-milan-1"]["last"], seen


def test_second_wave_ran_its_hosts_together():
    seen = stamps()
    rome_1, rome_2 = (seen[name] for name in SECOND_WAVE)
    # Both were written before either host's handler restarted chronyd: one batch, not two.
    assert rome_1["first"] < rome_2["last"] and rome_2["first"] < rome_1["last"], seen


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory):
    """The same play with an unusable time source on the first wave's only host."""
    before = stamps()
    overlay = tmp_path_factory.mktemp("fault") / "fault.yml"
    overlay.write_text("all:\n  hosts:\n    waves-milan-1:\n      time_sync_servers: ['not a host name!']\n")
    extra = {"misp_rollout_serial": [1, 2], "time_sync_timezone": "Asia/Tokyo"}
    env = dict(os.environ, ANSIBLE_STDOUT_CALLBACK="ansible.posix.json", ANSIBLE_FORCE_COLOR="0")
    run = subprocess.run(
        ["ansible-playbook", "-i", inventory(), "-i", str(overlay), str(PLAYBOOK), "-e", json.dumps(extra)],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    result = json.loads(run.stdout[run.stdout.index("{") :])
    record("failed-wave.json", {"rc": run.returncode, "stats": result["stats"]})
    return run.returncode, result, before


def test_failed_first_wave_stops_the_run(failed_run):
    rc, result, _ = failed_run
    assert rc == 2
    assert result["stats"]["waves-milan-1"]["failures"] == 1
    assert result["stats"]["waves-milan-1"]["changed"] == 0
    failed = [
        task["task"]["name"]
        for play in result["plays"]
        for task in play["tasks"]
        if task["hosts"].get("waves-milan-1", {}).get("failed")
    ]
    assert len(failed) == 1 and failed[0].endswith("Require well-formed time sources"), failed


def test_later_wave_never_started(failed_run):
    _, result, _ = failed_run
    assert set(result["stats"]) == set(FIRST_WAVE)
    touched = {name for play in result["plays"] for task in play["tasks"] for name in task["hosts"]}
    assert touched == set(FIRST_WAVE)


@pytest.mark.parametrize("name", HOSTS)
def test_no_host_was_changed_by_the_failed_run(failed_run, name):
    _, _, before = failed_run
    host = other(name)
    assert host.file("/etc/timezone").content_string == "Europe/Rome\n"
    assert host.file("/etc/localtime").linked_to == "/usr/share/zoneinfo/Europe/Rome"
    after = json.loads(host.check_output(STAMPS))
    assert after["conf"] == before[name]["conf"]
    assert after["last"] == before[name]["last"]


@pytest.mark.parametrize("name", HOSTS)
def test_package_list_updates_are_stamped(name):
    """apt_cache's hook fired on the apt module's own update, so later roles see the lists' real age."""
    host = other(name)
    hook = host.file("/etc/apt/apt.conf.d/15update-stamp")
    stamp = host.file("/var/lib/apt/periodic/update-success-stamp")
    assert "update-success-stamp" in hook.content_string
    assert stamp.exists, "no package list update was stamped"
    assert stamp.mtime >= hook.mtime
