#!/usr/bin/python
# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: misp_settings
short_description: Set many MISP server settings in one task, changing only what differs
version_added: 0.1.0
description:
  - Reads the current values of all given settings once, compares them with O(settings)
    and saves only the settings whose value differs, via C(POST /servers/serverSettingsEdit/<name>).
  - The truth is C(app/Config/config.php). MISP's C(getSetting) shows the I(default) for a
    setting that is not in config.php, yet the code reading it then gets nothing. With
    O(config_path) the module reads config.php itself (one C(php) call on the MISP host), so
    an unset setting is written even when its default already looks right.
  - Without O(config_path) the module asks MISP per setting (C(GET /servers/getSetting/<name>)).
    Unset non-nullable settings are detected by MISP's C(Value not set.) marker; an unset
    I(nullable) setting whose default equals the wanted value is then taken as set.
  - Values are sent with the type of the setting (JSON booleans and numbers), never as the
    strings C("true")/C("false"), which MISP would read as true.
  - C(force) is sent only where MISP rejects a valid intent unless forced (see O(force)).
author:
  - mispops contributors (!UNKNOWN)
extends_documentation_fragment:
  - mispops.misp.misp
  - mispops.misp.misp.writes
attributes:
  diff_mode:
    description: Shows the changed settings before and after; secret settings are masked.
    support: full
  idempotent:
    description: A second run with the same settings reports no change.
    support: full
options:
  settings:
    description:
      - Settings to enforce, as a mapping of the full setting name (C(MISP.baseurl),
        C(GnuPG.sign), C(SimpleBackgroundJobs.enabled), ...) to the wanted value.
      - Use real YAML booleans and numbers. V(null) values are not allowed (MISP cannot
        unset a setting over REST; use C(cake Admin setSetting <name> -n)).
      - Settings MISP marks C(cli_only) (for example C(MISP.python_bin), C(Security.encryption_key))
        cannot be changed over REST; the module fails for them before writing anything.
    type: dict
    required: true
  force:
    description:
      - Extra setting names to save with C(force=true), for settings whose MISP test rejects
        a value you know is right.
      - Without it, force is used only where MISP refuses a valid value by design - C(MISP.baseurl)
        (the REST test wants the host of the current request), the logo settings (the test
        looks in the wrong directory), C(MISP.disable_emailing=true), C(MISP.live=false),
        settings whose test is C(testBoolFalse)/C(testBoolTrue) set the "wrong" way, and
        clearing a C(testForEmpty) setting to an empty string.
    type: list
    elements: str
    default: []
  config_path:
    description:
      - Path of MISP's C(app/Config/config.php) on the host the module runs on (for example
        V(/var/www/MISP/app/Config/config.php)). Needs C(php) on that host.
      - When set, current values are read from this file (0 API calls when nothing changes)
        and redacted settings such as passwords can be managed idempotently.
      - Ignored (with a warning) when config.php says C(MISP.system_setting_db=true).
    type: path
  php_binary:
    description: PHP CLI used to read O(config_path).
    type: str
    default: php
notes:
  - Redacted settings (passwords, C(Security.salt), ...) cannot be read over REST; manage them
    with O(config_path), otherwise the module fails for them rather than rewrite them on
    every run.
  - Settings that are secrets never appear in the diff or the results.
seealso:
  - name: MISP server settings
    description: Server settings and diagnostics in the MISP book.
    link: https://www.circl.lu/doc/misp/administration/#server-settings-and-diagnostics
"""

EXAMPLES = r"""
- name: Configure core MISP settings
  mispops.misp.misp_settings:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    config_path: /var/www/MISP/app/Config/config.php
    settings:
      MISP.baseurl: https://misp.example.org
      MISP.external_baseurl: https://misp.example.org
      MISP.email: misp@example.org
      MISP.disable_emailing: false
      GnuPG.sign: false
      SimpleBackgroundJobs.enabled: true
      MISP.background_jobs: true

- name: Save a value MISP's own test rejects on this host
  mispops.misp.misp_settings:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    settings:
      MISP.custom_css: site.css
    force:
      - MISP.custom_css
"""

RETURN = r"""
settings:
  description: The enforced settings and their values after the run (secrets masked).
  returned: always
  type: dict
  sample: {"MISP.email": "misp@example.org", "GnuPG.sign": false}
changed_settings:
  description: Names of the settings that were (or in check mode would be) saved.
  returned: always
  type: list
  elements: str
  sample: ["MISP.email"]
forced_settings:
  description: Names of the changed settings saved with C(force=true).
  returned: always
  type: list
  elements: str
  sample: ["MISP.baseurl"]
source:
  description: Where the current values were read, V(config.php) or V(api).
  returned: always
  type: str
  sample: config.php
diff:
  description: Changed settings, before and after (secrets masked).
  returned: when changed
  type: dict
"""


from ansible_collections.mispops.misp.plugins.module_utils.misp_client import MispApiError
from ansible_collections.mispops.misp.plugins.module_utils.misp_config import (
    MASK,
    is_secret,
    lookup,
    read_config_php,
    setting_equal,
)
from ansible_collections.mispops.misp.plugins.module_utils.misp_module import MispManager, run_module, to_bool

ARGUMENT_SPEC = dict(
    settings=dict(type="dict", required=True),
    force=dict(type="list", elements="str", default=[]),
    config_path=dict(type="path"),
    php_binary=dict(type="str", default="php"),
)

# Values MISP's REST test rejects although they are valid intents (misp-reference 0.1, 1.3, 4).
ALWAYS_FORCE = {
    "MISP.baseurl",
    "MISP.welcome_logo",
    "MISP.welcome_logo2",
    "MISP.main_logo",
    "MISP.home_logo",
    "MISP.footer_logo",
}
NOT_SET = "Value not set."


class SettingsManager(MispManager):
    def __init__(self, module, client):
        super().__init__(module, client)
        self.definitions = {}

    def run(self):
        desired = self.params["settings"]
        for name, value in desired.items():
            if value is None:
                self.fail(f"Setting {name}: null values cannot be set over the REST API")
            if is_secret(name, value) and hasattr(self.module, "no_log_values"):
                self.module.no_log_values.add(str(value))

        current, source = self.read_current(desired)
        changed = [n for n, v in desired.items() if not setting_equal(current.get(n), v)]

        # Validate every change (known, not cli_only, right type) before writing any.
        plan = []
        for name in changed:
            definition = self.definition(name)
            if definition.get("cli_only"):
                self.fail(f"Setting {name} can only be changed with the cake CLI (cli_only)", setting=name)
            value = self.cast(name, desired[name], definition)
            plan.append((name, value, self.needs_force(name, value, definition)))

        if not self.check_mode:
            for name, value, force in plan:
                self.client.post(f"/servers/serverSettingsEdit/{name}", {"value": value, "force": force})

        def shown(name, value):
            if is_secret(name, value):
                return MASK if value is not None else None
            return value

        result = dict(
            changed=bool(plan),
            settings={n: shown(n, v) for n, v in desired.items()},
            changed_settings=[p[0] for p in plan],
            forced_settings=[p[0] for p in plan if p[2]],
            source=source,
        )
        if plan:
            result["diff"] = {
                "before": {n: shown(n, current.get(n)) for n, _v, _f in plan},
                "after": {n: shown(n, v) for n, v, _f in plan},
            }
        return result

    # -- reading -----------------------------------------------------------------------
    def read_current(self, desired):
        path = self.params.get("config_path")
        if path:
            config = self.read_config_php(path)
            if to_bool(lookup(config, "MISP.system_setting_db")):
                self.module.warn(
                    "MISP.system_setting_db is on: settings live in the database, reading them via the API"
                )
            else:
                return {name: lookup(config, name) for name in desired}, "config.php"
        current = {}
        for name in desired:
            definition = self.definition(name)
            if definition.get("redacted"):
                self.fail(
                    f"Setting {name} is redacted and cannot be read over the API; set config_path "
                    "(run the module on the MISP host) to manage it idempotently",
                    setting=name,
                )
            if definition.get("error") and definition.get("errorMessage") == NOT_SET:
                current[name] = None
            else:
                current[name] = definition.get("value")
        return current, "api"

    def read_config_php(self, path):
        return read_config_php(self.module, path, self.params["php_binary"])

    def definition(self, name):
        if name not in self.definitions:
            try:
                self.definitions[name] = self.client.get(f"/servers/getSetting/{name}") or {}
            except MispApiError as e:
                if e.status == 404:
                    self.fail(f"Unknown MISP setting {name}", setting=name)
                if e.status == 403 and "redacted" in (e.message or "").lower():
                    self.definitions[name] = {"name": name, "type": "string", "redacted": True}
                else:
                    raise
        return self.definitions[name]

    # -- writing -----------------------------------------------------------------------
    def cast(self, name, value, definition):
        kind = definition.get("type")
        if kind == "boolean":
            as_bool = to_bool(value)
            if not isinstance(as_bool, bool):
                self.fail(f"Setting {name} is boolean; got {value!r}", setting=name)
            return as_bool
        if kind == "numeric":
            if isinstance(value, bool):
                return int(value)
            try:
                return int(value)
            except (TypeError, ValueError):
                try:
                    return float(value)
                except (TypeError, ValueError):
                    self.fail(f"Setting {name} is numeric; got {value!r}", setting=name)
        if isinstance(value, bool):
            self.fail(f"Setting {name} is a {kind or 'string'}; quote the value instead of {value!r}", setting=name)
        return value if isinstance(value, str) else str(value)

    def needs_force(self, name, value, definition):
        if name in self.params["force"] or name in ALWAYS_FORCE:
            return True
        test = definition.get("test")
        return bool(
            (name == "MISP.disable_emailing" and value is True)
            or (name == "MISP.live" and value is False)
            or (test == "testBoolFalse" and value is True)
            or (test == "testBoolTrue" and value is False)
            or (test == "testForEmpty" and value == "")
        )


def main():
    run_module(SettingsManager, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
