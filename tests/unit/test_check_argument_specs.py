"""The argument_specs-vs-defaults check catches each kind of drift."""

import importlib.util
from pathlib import Path

import pytest
import yaml

SPEC = importlib.util.spec_from_file_location(
    "check_argument_specs", Path(__file__).resolve().parents[1] / "check_argument_specs.py"
)
checker = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(checker)


def make_role(tmp_path, defaults, options):
    role = tmp_path / "demo"
    (role / "defaults").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "defaults" / "main.yml").write_text(yaml.safe_dump(defaults))
    spec = {"argument_specs": {"main": {"short_description": "demo", "options": options}}}
    (role / "meta" / "argument_specs.yml").write_text(yaml.safe_dump(spec))
    return role


def test_agreeing_role_passes(tmp_path):
    role = make_role(tmp_path, {"demo_port": 25}, {"demo_port": {"type": "int", "default": 25}})
    assert checker.check_role(role) == []


@pytest.mark.parametrize(
    ("defaults", "options", "expected"),
    [
        ({"demo_port": 25}, {"demo_port": {"type": "int", "default": 587}}, "but argument_specs says 587"),
        ({"demo_port": 25}, {}, "demo_port is in defaults/main.yml but not in argument_specs"),
        ({}, {"demo_port": {"type": "int", "default": 25}}, "has a spec default but is not in defaults/main.yml"),
        ({}, {"demo_secret": {"type": "str"}}, "has no default and is not required"),
        ({"port": 25}, {"port": {"type": "int", "default": 25}}, "lacks the role prefix demo_"),
    ],
)
def test_drift_is_reported(tmp_path, defaults, options, expected):
    problems = checker.check_role(make_role(tmp_path, defaults, options))
    assert any(expected in problem for problem in problems), problems


def test_required_secret_without_default_passes(tmp_path):
    role = make_role(tmp_path, {}, {"demo_password": {"type": "str", "required": True, "no_log": True}})
    assert checker.check_role(role) == []


def test_stale_readme_is_reported_and_rewritten(tmp_path):
    role = make_role(tmp_path, {"demo_port": 25}, {"demo_port": {"type": "int", "default": 25, "description": "Port."}})
    (role / "README.md").write_text(f"# demo\n{checker.BEGIN} -->\nold\n{checker.END}\n")
    assert checker.check_readme(role, write=False)
    assert checker.check_readme(role, write=True) == []
    assert "| `demo_port` | int | `25` | Port. |" in (role / "README.md").read_text()
    assert checker.check_readme(role, write=False) == []
