"""molecule/shared/tests/misp_verify.py: the programs and commands the MISP scenarios' verifiers run on the host."""

import importlib.util
import subprocess
from pathlib import Path

import pytest

SPEC = importlib.util.spec_from_file_location(
    "misp_verify", Path(__file__).resolve().parents[2] / "molecule" / "shared" / "tests" / "misp_verify.py"
)
mv = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(mv)

KEY = "0123456789abcdef0123456789abcdef01234567"
GET_ME = "print(json.dumps(misp.get_user('me', pythonify=False)))"


class FakeHost:
    """Stands for testinfra's host: records each command and answers with the next canned output."""

    def __init__(self, *outputs):
        self.outputs = list(outputs)
        self.commands = []

    def check_output(self, command):
        self.commands.append(command)
        return self.outputs.pop(0)


# --- PyMISP on the host ---


def test_a_given_key_is_written_into_the_program():
    host = FakeHost('{"User": {"email": "admin@admin.test"}}')
    assert mv.run_pymisp(host, "https://misp", GET_ME, KEY) == {"User": {"email": "admin@admin.test"}}
    assert host.commands == [
        "/var/www/MISP/venv/bin/python - <<'PYMISP'\n"
        "import json, pymisp\n"
        f"misp = pymisp.PyMISP('https://misp', '{KEY}', ssl='/etc/ssl/certs/misp.crt')\n"
        f"{GET_ME}\n"
        "PYMISP"
    ]


def test_without_a_key_the_program_reads_the_admin_key_on_the_host():
    host = FakeHost("null")
    assert mv.run_pymisp(host, "https://bak-misp", "print(json.dumps(None))") is None
    assert host.commands == [
        "/var/www/MISP/venv/bin/python - <<'PYMISP'\n"
        "import json, pymisp\n"
        "key = open('/root/.misp/admin_api_key').read().strip()\n"
        "misp = pymisp.PyMISP('https://bak-misp', key, ssl='/etc/ssl/certs/misp.crt')\n"
        "print(json.dumps(None))\n"
        "PYMISP"
    ]


def test_admin_key_read_on_the_host_without_its_newline():
    host = FakeHost(KEY + "\n")
    assert mv.read_admin_key(host) == KEY
    assert host.commands == ["cat /root/.misp/admin_api_key"]


@pytest.mark.parametrize("key", [KEY, None])
def test_programs_are_valid_python(key):
    for code in (GET_ME, mv.event_by_uuid("5b1c0de0-5a5a-4b5b-9c5c-00000000a0b0")):
        compile(mv.pymisp_script("https://sync-a", code, key), "<pymisp>", "exec")


def test_the_here_document_hands_the_program_over_unchanged():
    # The shell of the host (sh) reads the command; with cat in place of MISP's Python, what
    # reaches stdin is the program itself: no $, backquote or backslash expanded.
    code = "print(json.dumps(['$HOME', '`id`', '\\\\n', \"it's\"]))"
    command = mv.pymisp_command("https://misp", code, KEY)
    assert command.startswith(mv.PYTHON + " - ")
    shown = subprocess.run(
        ["sh", "-c", "cat" + command.removeprefix(mv.PYTHON + " -")], capture_output=True, text=True, check=True
    )
    assert shown.stdout == mv.pymisp_script("https://misp", code, KEY)


def test_event_by_uuid_searches_events_by_uuid():
    assert mv.event_by_uuid("e-1") == (
        "found = misp.search(controller='events', uuid='e-1', pythonify=False)\n"
        "print(json.dumps(found[0]['Event'] if found else None))"
    )


# --- MISP's configuration and identity ---


def test_misp_config_decodes_what_php_prints():
    host = FakeHost('{"MISP": {"live": true}}')
    assert mv.misp_config(host) == {"MISP": {"live": True}}
    assert host.commands == [
        "php -r '$config = array(); require \"/var/www/MISP/app/Config/config.php\"; echo json_encode($config);'"
    ]


def test_misp_uuid_and_admin_key_digest_commands():
    host = FakeHost("u" * 36, "f" * 64)
    assert (mv.misp_uuid(host), mv.admin_key_sha256(host)) == ("u" * 36, "f" * 64)
    assert host.commands == [
        'php -r \'$config = array(); require "/var/www/MISP/app/Config/config.php"; echo $config["MISP"]["uuid"];\'',
        "sha256sum /root/.misp/admin_api_key | cut -d' ' -f1",
    ]


# --- The project's playbooks ---


def test_playbooks_are_found_from_the_shared_directory():
    assert (mv.PROJECT / "playbooks" / "backup.yml").is_file()
    assert (mv.PROJECT / "playbooks" / "upgrade.yml").is_file()
