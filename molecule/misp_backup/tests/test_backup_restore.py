"""Backups of a real MISP: an event deleted after a backup comes back, same uuid, after a restore.

The backup and the restore run through the project's playbooks (playbooks/backup.yml,
playbooks/restore.yml) from the controller with Molecule's inventory; PyMISP, the independent
client, runs on the MISP host against its public URL.
"""

import json
import time
import uuid

import pytest
from misp_verify import event_by_uuid, playbook, record_evidence, run_pymisp

testinfra_hosts = ["bak-misp"]
URL = "https://bak-misp"
BACKUPS = "/var/backups/misp-backups"
EVIDENCE = {}


def pymisp(host, code):
    """Run PyMISP on the MISP host, with the admin key read there, against its public URL."""
    return run_pymisp(host, URL, code)


def find_event(host, event_uuid):
    """The event as MISP's API returns it, or None; retried while Apache comes back."""
    code = event_by_uuid(event_uuid)
    for _ in range(30):
        try:
            return pymisp(host, code)
        except AssertionError:
            time.sleep(2)
    return pymisp(host, code)


def test_backup_directory_is_root_only(host):
    directory = host.file(BACKUPS)
    assert directory.is_directory
    assert (directory.user, directory.group, directory.mode) == ("root", "root", 0o700)
    for command in ("/usr/local/sbin/misp-backup", "/usr/local/sbin/misp-restore", "/etc/misp-backup/client.cnf"):
        assert host.file(command).user == "root"
        assert host.file(command).mode & 0o077 == 0


def test_backup_is_scheduled(host):
    cron = host.file("/etc/cron.d/misp-backup").content_string
    assert "30 2 * * * root /usr/local/sbin/misp-backup" in cron
    assert host.service("cron").is_running


@pytest.fixture(scope="module")
def proof(host):
    """Create an event, back up, delete the event: the state a restore must repair."""
    tag = uuid.uuid4().hex[:8]
    event = pymisp(
        host,
        "event = pymisp.MISPEvent()\n"
        f"event.info = 'misp_backup restore proof {tag}'\n"
        "event.add_attribute('domain', 'restore-proof-" + tag + ".example.org')\n"
        "created = misp.add_event(event, pythonify=True)\n"
        "print(json.dumps({'uuid': created.uuid, 'id': created.id, 'info': created.info}))",
    )
    backup = playbook("backup.yml")
    assert backup.returncode == 0, backup.stdout[-3000:]
    sets = host.check_output(f"ls {BACKUPS}").split()
    pymisp(host, f"print(json.dumps(misp.delete_event({event['uuid']!r})))")
    EVIDENCE.update(event=event, backup=sets[-1])
    return event, sets[-1]


def test_backup_holds_the_database_and_files(host, proof):
    _, name = proof
    files = host.check_output(f"ls {BACKUPS}/{name}").split()
    assert sorted(files) == ["SHA256SUMS", "backup.json", "database.sql.gz", "files.tar.gz"]
    assert host.run(f"cd {BACKUPS}/{name} && sha256sum --check --quiet SHA256SUMS").rc == 0
    listing = host.check_output(f"tar -tzf {BACKUPS}/{name}/files.tar.gz")
    assert "var/www/MISP/app/Config/config.php" in listing
    manifest = json.loads(host.check_output(f"cat {BACKUPS}/{name}/backup.json"))
    assert manifest["contents"] == ["database", "files"]


def test_event_is_gone_after_the_delete(host, proof):
    event, _ = proof
    assert find_event(host, event["uuid"]) is None


def test_restore_refuses_without_confirmation(host, proof):
    refused = playbook("restore.yml")
    assert refused.returncode == 2
    assert "misp_backup_restore_confirm" in refused.stdout + refused.stderr


def test_restore_brings_the_event_back(host, proof):
    event, name = proof
    confirmed = ["-e", f"misp_backup_restore_name={name}", "-e", "misp_backup_restore_confirm=true"]
    restore = playbook("restore.yml", *confirmed)
    assert restore.returncode == 0, restore.stdout[-3000:]
    back = find_event(host, event["uuid"])
    assert back is not None
    assert back["uuid"] == event["uuid"]
    assert back["info"] == event["info"]
    EVIDENCE.update(restored={"uuid": back["uuid"], "id": back["id"], "info": back["info"]})
    record_evidence("restore-proof", EVIDENCE)


def test_services_run_after_the_restore(host, proof):
    assert host.service("apache2").is_running
    if host.exists("supervisord"):
        assert host.service("supervisor").is_running


def test_retention_keeps_the_newest_three(host, proof):
    for _ in range(3):
        time.sleep(1.1)
        host.check_output("/usr/local/sbin/misp-backup")
    sets = host.check_output(f"ls {BACKUPS}").split()
    assert len(sets) == 3
    assert proof[1] not in sets
