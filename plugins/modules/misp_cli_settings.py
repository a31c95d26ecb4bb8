#!/usr/bin/python
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: misp_cli_settings
short_description: Set MISP settings with MISP's own CLI, on the MISP host
version_added: "0.1.0"
description:
  - Sets many MISP settings at once with C(cake Admin setSetting), run as the web user, on the
    host where MISP is installed. For the settings MISP allows only on the CLI (C(cli_only), such
    as C(MISP.python_bin)), for those needed before the web interface answers (Redis and
    background job settings), and when no API key exists yet.
  - Reads C(app/Config/config.php) once (one C(php) call) and runs C(cake) only for the settings
    whose value differs, so a run that changes nothing starts no C(cake) process.
  - Secrets (passwords, keys, the salt) are never shown in results or diffs.
  - M(mispops.misp.misp_settings) does the same over the REST API, from anywhere.
author:
  - mispops contributors (!UNKNOWN)
attributes:
  check_mode:
    description: Reports what would change without running C(cake).
    support: full
  diff_mode:
    description: Shows the changed settings before and after, secrets masked.
    support: full
  idempotent:
    description: Runs C(cake) only for settings whose value differs in config.php.
    support: full
options:
  settings:
    description: Setting names (V(MISP.baseurl)) and their values. Booleans and numbers stay typed.
    type: dict
    required: true
  force:
    description:
      - Names of settings to write with C(--force), for values MISP's test rejects although they
        are intended (V(MISP.disable_emailing=true), V(MISP.live=false)).
    type: list
    elements: str
    default: []
  misp_root:
    description: MISP's installation directory.
    type: path
    default: /var/www/MISP
  web_user:
    description: The user MISP runs as; C(cake) never runs as root (root-owned cache files break MISP).
    type: str
    default: www-data
  php_binary:
    description: PHP CLI used to read config.php.
    type: str
    default: php
notes:
  - Settings stored in the database (C(MISP.system_setting_db)) are not supported.
"""

EXAMPLES = r"""
- name: Point MISP at its Python venv and Redis
  mispops.misp.misp_cli_settings:
    settings:
      MISP.python_bin: /var/www/MISP/venv/bin/python
      MISP.redis_password: "{{ vault_redis_password }}"
      SimpleBackgroundJobs.enabled: true
  no_log: true
"""

RETURN = r"""
changed_settings:
  description: Names of the settings that were (or, in check mode, would be) changed.
  returned: always
  type: list
  elements: str
  sample: [MISP.python_bin]
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mispops.misp.plugins.module_utils.misp_config import (
    MASK,
    is_secret,
    lookup,
    read_config_php,
    setting_equal,
)


def cli_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def main():
    module = AnsibleModule(
        argument_spec=dict(
            settings=dict(type="dict", required=True),
            force=dict(type="list", elements="str", default=[]),
            misp_root=dict(type="path", default="/var/www/MISP"),
            web_user=dict(type="str", default="www-data"),
            php_binary=dict(type="str", default="php"),
        ),
        supports_check_mode=True,
    )
    desired = module.params["settings"]
    for name, value in desired.items():
        if is_secret(name, value) and value is not None:
            module.no_log_values.add(cli_value(value))
    root = module.params["misp_root"]
    config = read_config_php(module, f"{root}/app/Config/config.php", module.params["php_binary"])
    if lookup(config, "MISP.system_setting_db"):
        module.fail_json(msg="MISP.system_setting_db is on: settings live in the database, not in config.php")

    changed = [name for name, value in desired.items() if not setting_equal(lookup(config, name), value)]
    runuser = module.get_bin_path("runuser", required=True)
    for name in [] if module.check_mode else changed:
        argv = [runuser, "-u", module.params["web_user"], "--", f"{root}/app/Console/cake", "Admin", "setSetting"]
        argv += [name, cli_value(desired[name])]
        if name in module.params["force"]:
            argv.append("--force")
        rc, out, err = module.run_command(argv, cwd=root)
        if rc != 0 or "Setting change rejected" in out:
            module.fail_json(msg=f"MISP rejected {name}: {(out + err).strip()}", setting=name, rc=rc)

    def shown(name, value):
        return MASK if is_secret(name, value) and value is not None else value

    result = dict(changed=bool(changed), changed_settings=changed)
    if changed:
        result["diff"] = {
            "before": {name: shown(name, lookup(config, name)) for name in changed},
            "after": {name: shown(name, desired[name]) for name in changed},
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
