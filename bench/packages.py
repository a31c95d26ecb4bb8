#!/usr/bin/env python3
"""Prints the Debian 12 packages the roles of site.yml install, as one line: the union of the
``__<role>_*packages`` lists in roles/<role>/vars/main.yml and vars/Debian-12.yml of every role the
playbooks imported by site.yml name, for bench/baseline.sh. A mapping (time_sync's per-implementation
lists) contributes the list of the role's default ``<role>_implementation``.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
ROLES = REPO / "roles"
KEY = re.compile(r"^__[a-z0-9_]+_packages$")
# The benchmark installs MISP from a bundle: what only the git install method needs is not part of it.
GIT_ONLY = {"__misp_app_git_packages"}


def role_packages(role: Path) -> list[str]:
    defaults_file = role / "defaults" / "main.yml"
    defaults = yaml.safe_load(defaults_file.read_text()) if defaults_file.exists() else {}
    implementation = (defaults or {}).get(f"{role.name}_implementation")
    found: list[str] = []
    for name in ("main.yml", "Debian-12.yml"):
        path = role / "vars" / name
        if not path.exists():
            continue
        for key, value in (yaml.safe_load(path.read_text()) or {}).items():
            if not KEY.match(key) or key in GIT_ONLY:
                continue
            if isinstance(value, dict):
                value = value.get(implementation, [])
            if isinstance(value, list):
                found += [p for p in value if isinstance(p, str) and "{{" not in p]
    return found


def site_roles() -> list[str]:
    names: list[str] = []
    for entry in yaml.safe_load((REPO / "site.yml").read_text()):
        playbook = entry.get("ansible.builtin.import_playbook") or entry.get("import_playbook")
        for play in yaml.safe_load((REPO / playbook).read_text()) or []:
            for role in play.get("roles", []):
                name = role["role"] if isinstance(role, dict) else role
                if name not in names:
                    names.append(name)
    return names


def main() -> None:
    packages: list[str] = []
    for role in (ROLES / name for name in site_roles()):
        packages += [p for p in role_packages(role) if p not in packages]
    print(" ".join(packages))


if __name__ == "__main__":
    main()
