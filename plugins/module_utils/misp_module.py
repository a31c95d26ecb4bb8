# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pieces for the mispops.misp modules, so each module keeps only its own logic.

A module file defines its argument spec and a manager class with ``run() -> dict`` and
calls :func:`run_module`. Managers usually derive from :class:`MispManager` and use
:meth:`MispManager.ensure` for the read / compare / write-only-what-differs cycle.
"""

from __future__ import annotations

import json
import traceback

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.mispops.misp.plugins.module_utils.misp_client import (
    MispApiError,
    client_from_module,
    misp_argument_spec,
)

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class MispModuleError(Exception):
    """A failure the module reports as is (bad input, referenced object missing...)."""

    def __init__(self, msg, **details):
        super().__init__(msg)
        self.msg = msg
        self.details = details


# --------------------------------------------------------------------------------------
# Comparison helpers
# --------------------------------------------------------------------------------------
def to_bool(value):
    """MISP returns booleans as true/false, 1/0 or "1"/"0" depending on model and version."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return bool(value)
    if isinstance(value, str):
        low = value.strip().lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
    return value


def normalise(value, like):
    """Bring ``value`` (as MISP returned it) to the type of ``like`` (what the user asked for)."""
    if value is None:
        return None
    if isinstance(like, bool):
        return to_bool(value)
    if isinstance(like, int) and not isinstance(like, bool):
        if isinstance(value, bool):
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            return value
    if isinstance(like, float):
        try:
            return float(value)
        except (TypeError, ValueError):
            return value
    if isinstance(like, str):
        if isinstance(value, bool):
            return "1" if value else "0"
        if isinstance(value, (int, float)):
            return str(value)
        return value
    if isinstance(like, (dict, list)) and isinstance(value, str):
        # user settings and some JSON columns come back JSON-encoded
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def same(current, desired):
    """True when ``current`` (from MISP) already equals ``desired`` after normalisation."""
    if desired is None:
        return True
    cur = normalise(current, desired)
    if isinstance(desired, dict):
        if not isinstance(cur, dict) or set(cur) != set(desired):
            return False
        return all(same(cur[k], v) and (v is not None or cur[k] is None) for k, v in desired.items())
    if isinstance(desired, list):
        if not isinstance(cur, list) or len(cur) != len(desired):
            return False
        return all(same(cur[i], d) for i, d in enumerate(desired))
    if isinstance(desired, str) and cur is None:
        return desired == ""
    return cur == desired


def changed_keys(current, desired):
    """Keys of ``desired`` whose value is not None and differs from ``current`` -> {key: desired}."""
    current = current or {}
    return {k: v for k, v in desired.items() if v is not None and not same(current.get(k), v)}


def diff_of(before, after, keys):
    """Ansible diff holding only ``keys``."""
    before = before or {}
    after = after or {}
    keys = list(keys)
    return {
        "before": {k: before.get(k) for k in keys if k in before},
        "after": {k: after.get(k) for k in keys if k in after},
    }


def strip_none(data):
    return {k: v for k, v in data.items() if v is not None}


# --------------------------------------------------------------------------------------
# MISP answer helpers
# --------------------------------------------------------------------------------------
def unwrap(item, model):
    """``{"Organisation": {...}, ...}`` -> ``{...}``; anything else unchanged."""
    if isinstance(item, dict) and isinstance(item.get(model), dict):
        return item[model]
    return item


def unwrap_list(resp, model):
    """Index answers are lists of ``{model: {...}}`` (sometimes under ``response``)."""
    if resp is None:
        return []
    if isinstance(resp, dict):
        if isinstance(resp.get("response"), list):
            resp = resp["response"]
        elif model in resp:
            return [unwrap(resp, model)]
        else:
            return []
    return [unwrap(item, model) for item in resp if isinstance(item, dict)]


def find_one(items, ref, keys=("id", "uuid", "name")):
    """Find the item whose id, uuid or name equals ``ref`` (uuid and name case-insensitively)."""
    if ref is None:
        return None
    ref_s = str(ref)
    for key in keys:
        for item in items:
            if str(item.get(key, "")) == ref_s:
                return item
    low = ref_s.lower()
    for key in keys:
        if key == "id":
            continue
        for item in items:
            if str(item.get(key, "")).lower() == low:
                return item
    return None


class Lookup:
    """Cached list calls for objects other modules refer to by name (one GET per type per run)."""

    def __init__(self, client):
        self.client = client
        self._cache = {}

    def _list(self, key, path, model):
        if key not in self._cache:
            self._cache[key] = unwrap_list(self.client.get(path), model)
        return self._cache[key]

    def organisations(self):
        return self._list("orgs", "/organisations/index/scope:all", "Organisation")

    def roles(self):
        return self._list("roles", "/roles/index", "Role")

    def organisation(self, ref, required=True):
        org = find_one(self.organisations(), ref)
        if org is None and required:
            raise MispModuleError(f"Organisation '{ref}' not found in MISP")
        return org

    def role(self, ref, required=True):
        role = find_one(self.roles(), ref)
        if role is None and required:
            raise MispModuleError(f"Role '{ref}' not found in MISP")
        return role

    def forget(self, key=None):
        if key is None:
            self._cache.clear()
        else:
            self._cache.pop(key, None)


# --------------------------------------------------------------------------------------
# Manager base and module runner
# --------------------------------------------------------------------------------------
class MispManager:
    """Base for module managers. Subclasses implement ``run() -> dict`` (the module result)."""

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.check_mode = module.check_mode
        self.lookup = Lookup(client)

    def run(self):  # pragma: no cover - abstract
        raise NotImplementedError

    def fail(self, msg, **details):
        raise MispModuleError(msg, **details)

    def ensure(self, current, desired, state="present", create=None, update=None, delete=None, secret_keys=()):
        """Generic read/compare/write step for one object.

        ``current`` is the object as MISP has it (flat dict) or None, ``desired`` the wanted
        fields (None = leave alone). ``create(fields) -> obj``, ``update(current, changes) -> obj``,
        ``delete(current)`` are only called outside check mode. ``secret_keys`` are written
        but never put in the diff or the returned object.
        Returns ``(changed, diff, obj)``.
        """

        def public(data):
            return {k: v for k, v in (data or {}).items() if k not in secret_keys}

        if state == "absent":
            if current is None:
                return False, {"before": {}, "after": {}}, None
            if not self.check_mode:
                delete(current)
            return True, {"before": public(current), "after": {}}, None

        if current is None:
            fields = strip_none(desired)
            obj = fields if self.check_mode else (create(fields) or fields)
            return True, {"before": {}, "after": public(fields)}, public(obj)

        changes = changed_keys(current, desired)
        if not changes:
            return False, {"before": {}, "after": {}}, public(current)
        obj = {**current, **changes} if self.check_mode else (update(current, changes) or {**current, **changes})
        shown = [k for k in changes if k not in secret_keys]
        return True, diff_of(current, changes, shown), public(obj)


def execute(module, manager_cls, client):
    """Run a manager and end the module: exit_json on success, fail_json on errors."""
    try:
        result = manager_cls(module, client).run()
    except MispApiError as e:
        module.fail_json(
            msg=str(e), status=e.status, misp_message=e.message, url=e.path, exception=traceback.format_exc()
        )
    except MispModuleError as e:
        module.fail_json(msg=e.msg, **e.details)
    module.exit_json(**result)


def run_module(manager_cls, argument_spec, transport=None, **ansible_module_kwargs):
    """Build AnsibleModule from the common + the module's spec and run ``manager_cls``."""
    spec = misp_argument_spec()
    spec.update(argument_spec)
    ansible_module_kwargs.setdefault("supports_check_mode", True)
    module = AnsibleModule(argument_spec=spec, **ansible_module_kwargs)
    execute(module, manager_cls, client_from_module(module, transport=transport))
