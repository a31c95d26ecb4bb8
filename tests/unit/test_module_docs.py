"""Every module's DOCUMENTATION, EXAMPLES and RETURN parse, and ansible-doc renders them all."""

import json
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
MODULES = sorted(path.stem for path in (REPO / "plugins" / "modules").glob("*.py") if path.stem != "__init__")


def doc_blocks(name):
    namespace = {}
    source = (REPO / "plugins" / "modules" / f"{name}.py").read_text()
    # Only the three string constants: executing the module would need its imports.
    for block in ("DOCUMENTATION", "EXAMPLES", "RETURN"):
        start = source.index(f"{block} = r")
        end = source.index('"""', source.index('"""', start) + 3) + 3
        exec(source[start:end], namespace)
    return namespace


@pytest.mark.parametrize("name", MODULES)
def test_doc_blocks_are_valid_yaml(name):
    blocks = doc_blocks(name)
    documentation = yaml.safe_load(blocks["DOCUMENTATION"])
    assert documentation["module"] == name
    assert documentation["short_description"]
    assert isinstance(yaml.safe_load(blocks["EXAMPLES"]), list)
    assert isinstance(yaml.safe_load(blocks["RETURN"]), dict)


def test_ansible_doc_renders_every_module():
    ansible_doc = shutil.which("ansible-doc", path=str(pathlib.Path(sys.executable).parent))
    assert ansible_doc, "ansible-doc is not installed next to this Python"
    names = [f"mispops.misp.{name}" for name in MODULES]
    result = subprocess.run(
        [ansible_doc, "-t", "module", "--json", *names], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    rendered = json.loads(result.stdout)
    assert sorted(rendered) == sorted(names)
    assert all(entry["doc"]["short_description"] for entry in rendered.values())
