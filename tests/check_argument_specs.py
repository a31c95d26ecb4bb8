#!/usr/bin/env python3
"""Check that every role's meta/argument_specs.yml and defaults/main.yml agree.

argument_specs `default:` only documents a value: the real default comes from
defaults/main.yml. This keeps the two equal, key by key and value by value, and makes
sure every public variable is documented and every role has a spec. It also keeps the
"Role Variables" table of each role's README generated from the spec: `--write` renders
it, the plain run fails when a README is stale.
"""

import sys
from pathlib import Path

import yaml

ROLES = Path(__file__).resolve().parents[1] / "roles"


def load(path):
    with path.open() as handle:
        return yaml.safe_load(handle) or {}


def check_role(role):
    problems = []
    spec_file = role / "meta" / "argument_specs.yml"
    if not spec_file.exists():
        return [f"{role.name}: meta/argument_specs.yml is missing"]
    defaults_file = role / "defaults" / "main.yml"
    defaults = load(defaults_file) if defaults_file.exists() else {}
    entry_points = load(spec_file).get("argument_specs", {})
    if "main" not in entry_points:
        problems.append(f"{role.name}: argument_specs has no 'main' entry point")
    options = {}
    for entry in entry_points.values():
        options.update(entry.get("options") or {})
    for name in sorted(set(defaults) - set(options)):
        problems.append(f"{role.name}: {name} is in defaults/main.yml but not in argument_specs")
    for name, option in sorted(options.items()):
        if not name.startswith(f"{role.name}_"):
            problems.append(f"{role.name}: option {name} lacks the role prefix {role.name}_")
        if name not in defaults:
            if "default" in option:
                problems.append(f"{role.name}: {name} has a spec default but is not in defaults/main.yml")
            elif not option.get("required"):
                problems.append(f"{role.name}: {name} has no default and is not required")
            continue
        if "default" not in option:
            problems.append(f"{role.name}: {name} is in defaults/main.yml but its spec gives no default")
        elif option["default"] != defaults[name]:
            problems.append(
                f"{role.name}: {name} defaults to {defaults[name]!r} but argument_specs says {option['default']!r}"
            )
    return problems


BEGIN = "<!-- BEGIN ROLE VARIABLES"
END = "<!-- END ROLE VARIABLES -->"


def cell(value):
    return str(value).replace("|", "\\|").replace("\n", " ")


def variables_table(role):
    lines = ["| variable | type | default | description |", "|---|---|---|---|"]
    entry_points = load(role / "meta" / "argument_specs.yml").get("argument_specs", {})
    for entry in entry_points.values():
        for name, option in (entry.get("options") or {}).items():
            kind = option.get("type", "str")
            if option.get("elements"):
                kind = f"{kind} of {option['elements']}"
            if option.get("choices"):
                kind += " (" + ", ".join(map(str, option["choices"])) + ")"
            default = "*required*" if option.get("required") else f"`{option.get('default')!r}`"
            description = option.get("description", "")
            if isinstance(description, list):
                description = " ".join(description)
            lines.append(f"| `{name}` | {cell(kind)} | {cell(default)} | {cell(description)} |")
    return "\n".join(lines)


def check_readme(role, write):
    readme = role / "README.md"
    if not readme.exists():
        return [f"{role.name}: README.md is missing"]
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        return [f"{role.name}: README.md lacks the ROLE VARIABLES markers"]
    head, rest = text.split(BEGIN, 1)
    marker_line, _, rest = rest.partition("\n")
    _, tail = rest.split(END, 1)
    rendered = f"{head}{BEGIN}{marker_line}\n{variables_table(role)}\n{END}{tail}"
    if rendered == text:
        return []
    if write:
        readme.write_text(rendered)
        return []
    return [f"{role.name}: README.md's Role Variables table is stale: run tests/check_argument_specs.py --write"]


def main():
    write = "--write" in sys.argv[1:]
    roles = sorted(path for path in ROLES.iterdir() if (path / "tasks").is_dir())
    problems = [problem for role in roles for problem in check_role(role) + check_readme(role, write)]
    for problem in problems:
        print(problem)
    print(f"argument_specs vs defaults: {len(roles)} roles, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
