"""Helpers shared by the testinfra verifiers of the scenarios that run a real MISP.

molecule/conftest.py puts this directory on ``sys.path`` for every scenario's tests, which import
what they need from here; it also provides the ``admin_key`` fixture (see there). The functions
take testinfra's ``host`` and only use its ``check_output``.
"""

import json
import os
import subprocess
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[3]
PYTHON = "/var/www/MISP/venv/bin/python"  # MISP's venv, where PyMISP is installed
CA = "/etc/ssl/certs/misp.crt"  # the web server's self-signed certificate
CURL = f"curl --silent --show-error --cacert {CA}"
ADMIN_KEY_FILE = "/root/.misp/admin_api_key"
CONFIG_PHP = "/var/www/MISP/app/Config/config.php"


# --- PyMISP, the independent client, run on the MISP host against MISP's public URL ---


def read_admin_key(host):
    """The site admin's API key, read from its file on the host."""
    return host.check_output(f"cat {ADMIN_KEY_FILE}").strip()


def pymisp_script(url, code, key=None):
    """The Python program: ``misp``, a PyMISP client of ``url``, then ``code``.

    ``key`` is the API key to connect with; None reads the site admin's key from its file on the
    host, inside the program (the key never leaves the host).
    """
    if key is None:
        return (
            "import json, pymisp\n"
            f"key = open({ADMIN_KEY_FILE!r}).read().strip()\n"
            f"misp = pymisp.PyMISP({url!r}, key, ssl={CA!r})\n"
            f"{code}\n"
        )
    return f"import json, pymisp\nmisp = pymisp.PyMISP({url!r}, {key!r}, ssl={CA!r})\n{code}\n"


def pymisp_command(url, code, key=None):
    """The shell command that runs that program with MISP's venv Python (a quoted here-document:
    the shell expands nothing in it)."""
    return f"{PYTHON} - <<'PYMISP'\n{pymisp_script(url, code, key)}PYMISP"


def run_pymisp(host, url, code, key=None):
    """Run PyMISP on ``host`` against ``url``; ``code`` prints one JSON document, returned decoded.

    A failure (non-zero exit) fails the test with testinfra's message (``check_output``).
    """
    return json.loads(host.check_output(pymisp_command(url, code, key)))


def event_by_uuid(event_uuid):
    """PyMISP code printing the event with that uuid (its "Event" part, as MISP's search returns it), or null."""
    return (
        f"found = misp.search(controller='events', uuid={event_uuid!r}, pythonify=False)\n"
        "print(json.dumps(found[0]['Event'] if found else None))"
    )


# --- MISP's configuration and identity, read on the host ---


def misp_config(host):
    """config.php's ``$config``, as PHP loads it."""
    return json.loads(
        host.check_output(f"php -r '$config = array(); require \"{CONFIG_PHP}\"; echo json_encode($config);'")
    )


def misp_uuid(host):
    """MISP.uuid from config.php."""
    return host.check_output(f'php -r \'$config = array(); require "{CONFIG_PHP}"; echo $config["MISP"]["uuid"];\'')


def admin_key_sha256(host):
    """The SHA-256 of the admin key's file: tells whether the key changed without showing it."""
    return host.check_output(f"sha256sum {ADMIN_KEY_FILE} | cut -d' ' -f1")


# --- The project's playbooks, run from the controller with Molecule's inventory ---


def playbook(name, *extra):
    """Run playbooks/<name> with ansible-playbook and ``extra`` arguments; the finished process, never raising."""
    inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    return subprocess.run(
        ["ansible-playbook", "-i", inventory, str(PROJECT / "playbooks" / name), *extra],
        cwd=PROJECT,
        env=dict(os.environ, ANSIBLE_FORCE_COLOR="0"),
        capture_output=True,
        text=True,
        check=False,
    )


def record_evidence(name, evidence):
    """Print the evidence into the log (the verifier runs with -s) and, under Molecule, keep it as <name>.json
    in the scenario's ephemeral directory."""
    print(f"\n[evidence] {name}: {json.dumps(evidence)}")
    directory = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    if directory:
        Path(directory, f"{name}.json").write_text(json.dumps(evidence, indent=2) + "\n")
