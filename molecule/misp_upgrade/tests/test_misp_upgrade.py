"""MISP's upgrade path on a real instance: older bundle converged, playbooks/upgrade.yml to the newer one.

The upgrade, its re-run and a downgrade attempt run through the project's playbook from the
controller with Molecule's inventory, the bundle given as an extra variable as an operator would;
PyMISP, the independent client, runs on the MISP host against its public URL.
"""

import json
import os
import re
import subprocess
import time
import uuid

import pytest
from misp_verify import (
    PYTHON,
    admin_key_sha256,
    event_by_uuid,
    misp_uuid,
    playbook,
    pymisp_command,
    record_evidence,
)

testinfra_hosts = ["upg-misp"]
URL = "https://upg-misp"
ORG_UUID = "3d2c1b0a-9f8e-4d7c-8b6a-5f4e3d2c1b0a"
EVIDENCE = {}


def pymisp(host, code):
    """Run PyMISP on the MISP host, with the admin key read there, against its public URL; retried."""
    command = pymisp_command(URL, code)
    for _ in range(30):  # Apache and PHP-FPM may be restarting after the code switch
        result = host.run(command)
        if result.rc == 0:
            return json.loads(result.stdout)
        time.sleep(2)
    raise AssertionError(result.stderr)


def upgrade(bundle):
    return playbook("upgrade.yml", "-e", f"misp_app_bundle_path={bundle}")


def recap(run):
    found = re.search(r"upg-misp\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", run.stdout)
    assert found, run.stdout[-3000:]
    return dict(zip(("ok", "changed", "unreachable", "failed"), map(int, found.groups()), strict=True))


def version(host):
    return ".".join(str(part) for part in json.loads(host.check_output("cat /var/www/MISP/VERSION.json")).values())


def bundle_version(path):
    listing = subprocess.run(["tar", "-xzOf", path, "bundle.json"], capture_output=True, check=True)
    return json.loads(listing.stdout)["misp_version"]


def taxonomies(host):
    """namespace -> version of the taxonomies MISP has loaded."""
    rows = host.check_output("mysql -N -B misp -e 'SELECT namespace, version FROM taxonomies'").splitlines()
    return {namespace: int(version) for namespace, version in (row.split("\t") for row in rows)}


@pytest.fixture(scope="module")
def upgraded(host):
    """Record the old instance, add an event, upgrade, upgrade again, try to go back."""
    old_bundle, new_bundle = os.environ["MISP_PREVIOUS_BUNDLE"], os.environ["MISP_BUNDLE"]
    tag = uuid.uuid4().hex[:8]
    before = {
        "version": version(host),
        "misp_uuid": misp_uuid(host),
        "admin_key_sha256": admin_key_sha256(host),
        "users": host.check_output("mysql -N -B misp -e 'SELECT COUNT(*) FROM users'"),
        "event": pymisp(
            host,
            "event = pymisp.MISPEvent()\n"
            f"event.info = 'misp_upgrade survivor {tag}'\n"
            f"event.add_attribute('domain', 'upgrade-survivor-{tag}.example.org')\n"
            "created = misp.add_event(event, pythonify=True)\n"
            "print(json.dumps({'uuid': created.uuid, 'info': created.info}))",
        ),
    }
    before["taxonomies"] = taxonomies(host)
    assert before["version"] == bundle_version(old_bundle)
    first = upgrade(new_bundle)
    again = upgrade(new_bundle)
    back = upgrade(old_bundle)
    EVIDENCE.update(before=before, wanted=bundle_version(new_bundle))
    return {"before": before, "first": first, "again": again, "back": back, "wanted": bundle_version(new_bundle)}


def test_upgrade_ran_and_reported_both_versions(upgraded):
    first = upgraded["first"]
    assert first.returncode == 0, first.stdout[-4000:]
    line = f"upg-misp: MISP {upgraded['before']['version']} -> {upgraded['wanted']}"
    assert line in first.stdout
    EVIDENCE.update(upgrade_recap=recap(first), reported=line)


def test_new_version_installed_and_served(host, upgraded):
    assert version(host) == upgraded["wanted"]
    served = pymisp(host, "print(json.dumps(misp.misp_instance_version))")
    assert served["version"] == upgraded["wanted"], served
    EVIDENCE.update(served=served)


def test_database_dumped_before_the_code_switch(host, upgraded):
    dumps = host.check_output("ls /var/backups/misp").split()
    label = f"misp-{upgraded['before']['version']}-before-{upgraded['wanted']}-"
    assert any(name.startswith(label) and name.endswith(".sql.gz") for name in dumps), dumps
    # A complete dump ends with mysqldump's trailer.
    newest = sorted(name for name in dumps if name.startswith(label))[-1]
    assert "-- Dump completed" in host.check_output(f"zcat /var/backups/misp/{newest} | tail -1")


def test_event_identity_and_users_survived(host, upgraded):
    before = upgraded["before"]
    event = before["event"]
    found = pymisp(host, event_by_uuid(event["uuid"]))
    assert found is not None and found["info"] == event["info"]
    assert misp_uuid(host) == before["misp_uuid"]
    assert admin_key_sha256(host) == before["admin_key_sha256"]
    assert host.check_output("mysql -N -B misp -e 'SELECT COUNT(*) FROM users'") == before["users"]
    org = pymisp(host, "print(json.dumps(misp.get_user('me', pythonify=True).org_id))")
    host_org = pymisp(host, f"print(json.dumps(misp.get_organisation({org!r}, pythonify=True).uuid))")
    assert host_org == ORG_UUID
    EVIDENCE.update(event_after={"uuid": found["uuid"], "info": found["info"]})


def test_python_packages_follow_the_new_requirements(host, upgraded):
    # 2.5.1 pins another PyMISP than 2.5.0: the venv must follow requirements.txt, not just import.
    pins = dict(
        line.split("==", 1)
        for line in host.check_output("cat /var/www/MISP/requirements.txt").splitlines()
        if "==" in line and not line.startswith("#")
    )
    assert "pymisp" in pins, pins
    installed = host.check_output(f"{PYTHON} -c 'import importlib.metadata as m; print(m.version(\"pymisp\"))'")
    assert installed == pins["pymisp"]
    EVIDENCE.update(pymisp_in_venv=installed)


def test_json_libraries_follow_the_new_submodules(host, upgraded):
    # The upgrade brings newer taxonomies: each one MISP has loaded is at its bundled version.
    script = (
        "import glob, json\n"
        "print(json.dumps({d['namespace']: d['version'] for d in (json.load(open(f)) for f in"
        " glob.glob('/var/www/MISP/app/files/taxonomies/*/machinetag.json'))}))"
    )
    bundled = json.loads(host.check_output(f"python3 - <<'PY'\n{script}\nPY"))
    loaded = taxonomies(host)
    behind = {ns: (version, bundled[ns]) for ns, version in loaded.items() if ns in bundled and version < bundled[ns]}
    assert not behind, behind
    before = upgraded["before"]["taxonomies"]
    moved = {ns: (before.get(ns), version) for ns, version in loaded.items() if before.get(ns) != version}
    EVIDENCE.update(taxonomies_loaded=len(loaded), taxonomies_moved_by_the_upgrade=moved)


def test_no_database_update_left_pending(host, upgraded):
    pending = host.run("runuser -u www-data -- /var/www/MISP/app/Console/cake Admin runUpdates")
    assert pending.rc == 0, pending.stderr
    assert not re.search(r"(?m)^Executing [0-9]", pending.stdout), pending.stdout


def test_upgrade_rerun_changes_nothing(upgraded):
    again = upgraded["again"]
    assert again.returncode == 0, again.stdout[-4000:]
    assert recap(again)["changed"] == 0, again.stdout[-4000:]
    EVIDENCE.update(rerun_recap=recap(again))


def test_downgrade_refused_and_nothing_changed(host, upgraded):
    back = upgraded["back"]
    assert back.returncode == 2, back.stdout[-4000:]
    assert "MISP has no downgrade path" in back.stdout + back.stderr, back.stdout[-4000:]
    assert recap(back)["changed"] == 0
    assert version(host) == upgraded["wanted"]
    EVIDENCE.update(downgrade_recap=recap(back))
    record_evidence("upgrade-proof", EVIDENCE)
