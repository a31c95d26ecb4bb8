"""Unit tests for mispops.misp.config_file (the module: real AnsibleModule, real files in tmp_path)."""

from __future__ import annotations

import hashlib
import json
import os
import stat

import pytest
from ansible.module_utils.testing import patch_module_args
from ansible_collections.mispops.misp.plugins.modules import config_file


def run(capsys, check_mode=False, diff=False, **params):
    """Run the module's main() like Ansible does and return its JSON result."""
    args = dict(params, _ansible_check_mode=check_mode, _ansible_diff=diff)
    with patch_module_args(args), pytest.raises(SystemExit):
        config_file.main()
    return json.loads(capsys.readouterr().out)


def mode_of(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_creates_the_file(tmp_path, capsys):
    dest = tmp_path / "app.conf"
    result = run(capsys, content="a = 1\n", dest=str(dest), mode="0640")
    assert result["changed"] is True
    assert result["content_changed"] is True
    assert result["checksum"] == hashlib.sha1(b"a = 1\n").hexdigest()
    assert dest.read_bytes() == b"a = 1\n"
    assert mode_of(dest) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["app.conf"]  # no temporary file left


def test_unchanged_file_is_not_rewritten(tmp_path, capsys):
    dest = tmp_path / "app.conf"
    dest.write_text("a = 1\n")
    dest.chmod(0o640)
    inode = os.stat(dest).st_ino
    result = run(capsys, content="a = 1\n", dest=str(dest), mode="0640")
    assert result["changed"] is False
    assert result["content_changed"] is False
    assert os.stat(dest).st_ino == inode


def test_changed_content_replaces_the_file_and_keeps_its_mode(tmp_path, capsys):
    dest = tmp_path / "app.conf"
    dest.write_text("a = 1\n")
    dest.chmod(0o600)
    result = run(capsys, content="a = 2\n", dest=str(dest))
    assert result["changed"] is True
    assert dest.read_text() == "a = 2\n"
    assert mode_of(dest) == 0o600


def test_only_the_mode_is_fixed(tmp_path, capsys):
    dest = tmp_path / "app.conf"
    dest.write_text("a = 1\n")
    dest.chmod(0o644)
    inode = os.stat(dest).st_ino
    result = run(capsys, content="a = 1\n", dest=str(dest), mode="0600")
    assert result["changed"] is True
    assert result["content_changed"] is False
    assert mode_of(dest) == 0o600
    assert os.stat(dest).st_ino == inode


def test_check_mode_writes_nothing(tmp_path, capsys):
    dest = tmp_path / "app.conf"
    dest.write_text("a = 1\n")
    dest.chmod(0o644)
    result = run(capsys, check_mode=True, content="a = 2\n", dest=str(dest), mode="0600")
    assert result["changed"] is True
    assert dest.read_text() == "a = 1\n"
    assert mode_of(dest) == 0o644

    new = tmp_path / "new.conf"
    result = run(capsys, check_mode=True, content="x\n", dest=str(new), mode="0600")
    assert result["changed"] is True
    assert not new.exists()

    result = run(capsys, check_mode=True, content="a = 1\n", dest=str(dest), mode="0600")
    assert result["changed"] is True  # the mode would change
    assert mode_of(dest) == 0o644


def test_validate_failure_leaves_dest_untouched(tmp_path, capsys):
    dest = tmp_path / "app.conf"
    dest.write_text("good\n")
    result = run(capsys, content="bad\n", dest=str(dest), validate="grep -q good %s")
    assert result["failed"] is True
    assert result["rc"] == 1
    assert "failed to validate" in result["msg"]
    assert "bad" not in result["msg"]
    assert dest.read_text() == "good\n"
    assert [p.name for p in tmp_path.iterdir()] == ["app.conf"]


def test_validate_sees_the_new_file_with_its_mode(tmp_path, capsys):
    dest = tmp_path / "app.conf"
    validate = 'sh -c \'grep -q good "$1" && [ "$(stat -c %%a "$1")" = 600 ]\' validate %s'
    result = run(capsys, content="good\n", dest=str(dest), mode="0600", validate=validate)
    assert result["changed"] is True, result
    assert dest.read_text() == "good\n"


def test_validate_is_not_run_when_the_content_is_the_same(tmp_path, capsys):
    dest = tmp_path / "app.conf"
    dest.write_text("same\n")
    result = run(capsys, content="same\n", dest=str(dest), validate="false %s")
    assert result["changed"] is False


def test_diff_shows_before_and_after(tmp_path, capsys):
    dest = tmp_path / "app.conf"
    result = run(capsys, diff=True, content="a = 1\n", dest=str(dest))
    assert result["diff"] == {"before": "", "after": "a = 1\n", "before_header": str(dest), "after_header": str(dest)}

    result = run(capsys, diff=True, content="a = 2\n", dest=str(dest))
    assert result["diff"]["before"] == "a = 1\n"
    assert result["diff"]["after"] == "a = 2\n"

    result = run(capsys, diff=True, content="a = 2\n", dest=str(dest))
    assert "diff" not in result


def test_diff_placeholders_for_binary_and_large_files(tmp_path, capsys):
    dest = tmp_path / "app.conf"
    dest.write_bytes(b"\xff\xfe\x00")
    result = run(capsys, diff=True, content="x" * (config_file.MAX_DIFF_SIZE + 1), dest=str(dest))
    assert result["diff"]["dst_binary"] == 1
    assert result["diff"]["src_larger"] == config_file.MAX_DIFF_SIZE
    assert "before" not in result["diff"]
    assert "after" not in result["diff"]


def test_missing_directory_fails_clearly(tmp_path, capsys):
    result = run(capsys, content="x\n", dest=str(tmp_path / "nowhere" / "app.conf"))
    assert result["failed"] is True
    assert "does not exist" in result["msg"]


def test_template_and_src_need_the_action_plugin(tmp_path, capsys):
    result = run(capsys, template="x.j2", dest=str(tmp_path / "app.conf"))
    assert result["failed"] is True
    assert "action plugin" in result["msg"]
    result = run(capsys, template="x.j2", content="x", dest=str(tmp_path / "app.conf"))
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]


def test_check_mode_tolerates_a_missing_directory(tmp_path, capsys):
    dest = tmp_path / "later" / "app.conf"
    result = run(capsys, check_mode=True, diff=True, content="x\n", dest=str(dest), mode="0600")
    assert result["changed"] is True
    assert result["diff"]["before"] == ""
    assert not dest.parent.exists()
