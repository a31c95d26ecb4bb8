"""Unit tests for mispops.misp.misp_host_secrets, on real files under tmp_path.

The tests run as whoever runs pytest (root in CI, not always elsewhere): owner and group are the
current user's, so the module's chown is exercised without needing root.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import stat
import string

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.mispops.misp.plugins.modules import misp_host_secrets
from ansible_collections.mispops.misp.plugins.modules.misp_host_secrets import ARGUMENT_SPEC
from fake_misp import AnsibleExitJson, AnsibleFailJson, FakeModule

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name
ALPHABET = set(string.ascii_letters + string.digits)


@pytest.fixture
def run(monkeypatch):
    """Run the module's main() with a FakeModule, as the other module tests do; returns the result."""

    def _run(secrets, check_mode=False, diff=False, **params):
        params = {"owner": USER, "group": GROUP, **params, "secrets": secrets}
        module = FakeModule(params, check_mode=check_mode, spec=ARGUMENT_SPEC)
        module._diff = diff
        monkeypatch.setattr(misp_host_secrets, "AnsibleModule", lambda **kwargs: module)
        try:
            misp_host_secrets.main()
        except (AnsibleExitJson, AnsibleFailJson) as e:
            return e.result
        raise AssertionError("the module ended without exit_json/fail_json")

    return _run


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_generates_once_and_keeps_the_value(run, tmp_path):
    secret_dir = tmp_path / "misp"
    path = str(secret_dir / "db_password")

    first = run([{"path": path}])
    assert first["changed"] is True
    assert first["changed_paths"] == [str(secret_dir), path]
    value = first["secrets"][path]
    assert len(value) == 32 and set(value) <= ALPHABET
    with open(path) as handle:
        assert handle.read() == value  # no final newline, as copy content= wrote it
    assert mode_of(path) == 0o600
    assert mode_of(secret_dir) == 0o700
    assert os.listdir(secret_dir) == ["db_password"]  # no temporary file left behind

    inode = os.stat(path).st_ino
    second = run([{"path": path}])
    assert second["changed"] is False
    assert second["changed_paths"] == []
    assert second["secrets"] == {path: value}
    assert os.stat(path).st_ino == inode  # not rewritten


def test_length_and_alphabet(run, tmp_path):
    path = str(tmp_path / "admin_api_key")
    result = run([{"path": path, "length": 40, "chars": "ab"}])
    assert len(result["secrets"][path]) == 40
    assert set(result["secrets"][path]) <= {"a", "b"}


def test_given_value_rotates_and_is_idempotent(run, tmp_path):
    path = tmp_path / "redis_password"
    path.write_text("generated-long-ago")
    path.chmod(0o600)

    rotated = run([{"path": str(path), "value": "from-the-vault-1234"}])
    assert rotated["changed"] is True
    assert rotated["changed_paths"] == [str(path)]
    assert rotated["secrets"] == {str(path): "from-the-vault-1234"}
    assert path.read_text() == "from-the-vault-1234"

    again = run([{"path": str(path), "value": "from-the-vault-1234"}])
    assert again["changed"] is False
    assert again["secrets"] == {str(path): "from-the-vault-1234"}


def test_given_value_creates_a_missing_file(run, tmp_path):
    path = tmp_path / "supervisor_password"
    result = run([{"path": str(path), "value": "from-the-vault-1234"}])
    assert result["changed"] is True
    assert path.read_text() == "from-the-vault-1234"
    assert mode_of(path) == 0o600


def test_old_file_with_final_newline_is_read_unchanged(run, tmp_path):
    path = tmp_path / "gpg_passphrase"
    path.write_text("  written-by-hand\n")
    path.chmod(0o600)
    before = os.stat(path)

    result = run([{"path": str(path)}])
    assert result["changed"] is False
    assert result["secrets"] == {str(path): "written-by-hand"}
    assert path.read_text() == "  written-by-hand\n"
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns


def test_read_only_missing_fails_with_the_hint_and_writes_nothing(run, tmp_path):
    generated = tmp_path / "new" / "encryption_key"
    missing = str(tmp_path / "db_password")
    hint = "run role misp_database first or give misp_app_database_password"
    result = run([{"path": str(generated)}, {"path": missing, "create": False, "missing_hint": hint}])
    assert result["failed"] is True
    assert missing in result["msg"]
    assert hint in result["msg"]
    assert not generated.parent.exists()  # every file is read before anything is written


def test_read_only_existing_is_read_and_left_alone(run, tmp_path):
    path = tmp_path / "db_password"
    path.write_text("kept-by-misp_database")
    path.chmod(0o644)
    result = run([{"path": str(path), "create": False}])
    assert result["changed"] is False
    assert result["secrets"] == {str(path): "kept-by-misp_database"}
    assert mode_of(path) == 0o644


def test_read_only_refuses_a_value(run, tmp_path):
    path = tmp_path / "db_password"
    path.write_text("x")
    result = run([{"path": str(path), "create": False, "value": "y"}])
    assert result["failed"] is True


def test_check_mode_writes_nothing(run, tmp_path):
    secret_dir = tmp_path / "misp"
    new = str(secret_dir / "encryption_key")
    rotated = tmp_path / "redis_password"
    rotated.write_text("old-value")
    rotated.chmod(0o600)

    result = run([{"path": new, "length": 24}, {"path": str(rotated), "value": "new-value"}], check_mode=True)
    assert result["changed"] is True
    assert result["changed_paths"] == [str(secret_dir), new, str(rotated)]
    assert len(result["secrets"][new]) == 24  # the value that would be written
    assert result["secrets"][str(rotated)] == "new-value"
    assert not secret_dir.exists()
    assert rotated.read_text() == "old-value"


def test_check_mode_on_settled_files_reports_nothing(run, tmp_path):
    path = str(tmp_path / "encryption_key")
    value = run([{"path": path}])["secrets"][path]
    result = run([{"path": path}], check_mode=True)
    assert result["changed"] is False
    assert result["secrets"] == {path: value}


def test_missing_directory_is_created_with_directory_mode(run, tmp_path):
    path = tmp_path / "a" / "b" / "secret"
    result = run([{"path": str(path)}], directory_mode="0750")
    assert result["changed_paths"] == [str(tmp_path / "a"), str(tmp_path / "a" / "b"), str(path)]
    assert mode_of(tmp_path / "a") == 0o750
    assert mode_of(tmp_path / "a" / "b") == 0o750


def test_existing_directory_is_left_alone(run, tmp_path):
    secret_dir = tmp_path / "misp"
    secret_dir.mkdir()
    secret_dir.chmod(0o755)
    result = run([{"path": str(secret_dir / "secret")}])
    assert result["changed_paths"] == [str(secret_dir / "secret")]
    assert mode_of(secret_dir) == 0o755


def test_wrong_mode_is_fixed_and_the_value_kept(run, tmp_path):
    path = tmp_path / "admin_password"
    path.write_text("kept")
    path.chmod(0o644)
    result = run([{"path": str(path)}])
    assert result["changed"] is True
    assert result["changed_paths"] == [str(path)]
    assert result["secrets"] == {str(path): "kept"}
    assert mode_of(path) == 0o600
    assert path.read_text() == "kept"
    assert run([{"path": str(path)}])["changed"] is False


def test_mode_as_string_or_integer(run, tmp_path):
    first = tmp_path / "first"
    second = tmp_path / "second"
    run([{"path": str(first)}], mode="0640")
    run([{"path": str(second)}], mode=0o400)  # YAML's unquoted 0400
    assert mode_of(first) == 0o640
    assert mode_of(second) == 0o400
    assert run([{"path": str(tmp_path / "third")}], mode="u=rw")["failed"] is True


def test_owner_and_group(run, tmp_path):
    path = tmp_path / "secret"
    result = run([{"path": str(path)}], owner=USER, group=GROUP)
    assert result["changed"] is True
    info = os.stat(path)
    assert (info.st_uid, info.st_gid) == (os.getuid(), os.getgid())
    numeric = run([{"path": str(path)}], owner=str(os.getuid()), group=str(os.getgid()))
    assert numeric["changed"] is False


def test_unknown_owner_fails(run, tmp_path):
    result = run([{"path": str(tmp_path / "secret")}], owner="no-such-user-here")
    assert result["failed"] is True
    assert "no-such-user-here" in result["msg"]
    assert not (tmp_path / "secret").exists()


def test_a_path_listed_twice_fails(run, tmp_path):
    path = str(tmp_path / "secret")
    assert run([{"path": path}, {"path": path, "length": 8}])["failed"] is True


def test_diff_never_shows_a_secret(run, tmp_path):
    rotated = tmp_path / "rotated"
    rotated.write_text("old-secret-value")
    rotated.chmod(0o644)
    fresh = tmp_path / "fresh"
    result = run([{"path": str(rotated), "value": "new-secret-value"}, {"path": str(fresh)}], diff=True)
    shown = json.dumps(result["diff"])
    for secret in ("old-secret-value", "new-secret-value", result["secrets"][str(fresh)]):
        assert secret not in shown
    by_path = {entry["before_header"]: entry for entry in result["diff"]}
    assert by_path[str(rotated)]["before"] == (
        f"state: file\ncontent: (secret)\nowner: {USER}\ngroup: {GROUP}\nmode: 0644\n"
    )
    assert by_path[str(rotated)]["after"] == (
        f"state: file\ncontent: (new secret)\nowner: {USER}\ngroup: {GROUP}\nmode: 0600\n"
    )
    assert by_path[str(fresh)]["before"] == "state: absent\n"


def test_real_module_returns_given_values_and_masks_its_arguments(tmp_path, capsys):
    """With AnsibleModule itself: `value` is no_log, yet the result must carry the value in clear."""
    path = str(tmp_path / "db_password")
    args = {"secrets": [{"path": path, "value": "from-the-vault-5678"}], "owner": USER, "group": GROUP}
    assert ARGUMENT_SPEC["secrets"]["options"]["value"]["no_log"] is True
    with patch_module_args(args), pytest.raises(SystemExit) as ended:
        misp_host_secrets.main()
    assert ended.value.code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["changed"] is True
    assert result["secrets"] == {path: "from-the-vault-5678"}
    assert result["changed_paths"] == [path]
    invocation = json.dumps(result["invocation"])
    assert "from-the-vault-5678" not in invocation
    assert "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER" in invocation


def test_real_module_validates_its_arguments(tmp_path, capsys):
    args = {"secrets": [{"path": str(tmp_path / "x"), "lenght": 3}], "owner": USER, "group": GROUP}
    with patch_module_args(args), pytest.raises(SystemExit) as ended:
        misp_host_secrets.main()
    assert ended.value.code == 1
    assert "lenght" in json.loads(capsys.readouterr().out)["msg"]
