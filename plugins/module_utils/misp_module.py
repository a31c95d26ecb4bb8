# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared pieces for the mispops.misp modules, so each module keeps only its own logic.

A module file defines its argument spec and a manager class with ``run() -> dict`` and
calls :func:`run_module`. Managers usually derive from :class:`MispManager` and use
:meth:`MispManager.ensure` for the read / compare / write-only-what-differs cycle.
"""

from __future__ import annotations

import copy
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
def list_argument_spec(list_option, item_spec, run_spec=None):
    """Argument spec of a module that manages one object or a list of them.

    The options of ``item_spec`` (one object, with ``state``) are top-level options (``required``
    dropped: the list option may replace them) and also the suboptions of ``list_option``, a list of
    such objects. ``run_spec`` holds the options that apply to the whole run.
    """
    spec = {name: {k: v for k, v in opt.items() if k != "required"} for name, opt in item_spec.items()}
    spec[list_option] = dict(type="list", elements="dict", options=copy.deepcopy(item_spec))
    spec.update(run_spec or {})
    return spec


def list_mode_rules(list_option, item_spec, one_of=None):
    """``mutually_exclusive``/``required_one_of`` for :func:`run_module`: either the list option or
    the single-object options (``one_of``: the options one of which names a single object)."""
    one_of = list(one_of or [n for n, o in item_spec.items() if o.get("required")])
    return dict(
        mutually_exclusive=[(list_option, name) for name in item_spec],
        required_one_of=[(*one_of, list_option)],
    )


class MispManager:
    """Base for module managers. Subclasses implement ``run() -> dict`` (the module result).

    Modules that manage objects of one type set ``list_option``, ``item_spec`` and ``identity_keys``
    and implement ``process() -> dict`` for one object, read from ``self.params`` (the module's
    parameters overlaid with that object's options). :meth:`run_elements` then serves the
    single-object options and the list option with the same code: single-object mode is list
    mode with one element. Reads must be cached on the manager (one list call per type per run).
    """

    list_option = None  # option holding a list of objects, e.g. "organisations"
    item_spec = None  # spec of one object (the single-object options)
    identity_keys = ()  # options that identify an object (duplicate check, result label)

    def __init__(self, module, client):
        self.module = module
        self.client = client
        self.params = module.params
        self.check_mode = module.check_mode
        self.lookup = Lookup(client)
        self.run_result = {}  # run-wide keys added to the module result

    def run(self):
        if self.list_option is None:  # pragma: no cover - abstract
            raise NotImplementedError
        return self.run_elements()

    def process(self):  # pragma: no cover - abstract
        """Bring one object (``self.params``) to its wanted state; return its result dict
        (``changed``, ``diff`` and the object)."""
        raise NotImplementedError

    # -- list mode -----------------------------------------------------------------------
    def elements(self):
        """(list_mode, [element options]) from the module parameters."""
        params = self.module.params
        listed = params.get(self.list_option)
        if listed is None:
            return False, [{name: params.get(name) for name in self.item_spec}]
        given = [
            name
            for name, opt in self.item_spec.items()
            if params.get(name) is not None and params.get(name) != opt.get("default")
        ]
        if given:
            self.fail(f"{self.list_option} is mutually exclusive with the single-object options: {', '.join(given)}")
        return True, [
            {name: dict(item).get(name, opt.get("default")) for name, opt in self.item_spec.items()} for item in listed
        ]

    def check_item(self, item):
        """Checks of one element that need no MISP data; all run before the first write."""

    def identity(self, item):
        """[(key, normalised value)] naming the object; two elements sharing one are refused."""
        return [(k, str(item[k]).strip().lower()) for k in self.identity_keys if item.get(k) not in (None, "")]

    def label(self, item):
        """Short name of an element, used as its key in the diff and in error messages."""
        for key in self.identity_keys:
            if item.get(key) not in (None, ""):
                return str(item[key])
        return "?"

    def check_duplicates(self, items, labels):
        seen = {}
        for item, label in zip(items, labels, strict=True):
            for ident in self.identity(item):
                if ident in seen:
                    self.fail(
                        f"{self.list_option}: '{seen[ident]}' and '{label}' name the same object "
                        f"({ident[0]} {ident[1]}); list each object once."
                    )
                seen[ident] = label

    def run_elements(self):
        """Run :meth:`process` for every element, then build the module result."""
        list_mode, items = self.elements()
        labels = []
        for item in items:
            label = self.label(item)
            labels.append(label if label not in labels else f"{label} [{len(labels)}]")
        for item, label in zip(items, labels, strict=True):
            try:
                self.check_item(item)
            except MispModuleError as e:
                if list_mode:
                    e.msg = f"{label}: {e.msg}"
                raise
        if list_mode:
            self.check_duplicates(items, labels)
        run_params = self.module.params
        results = []
        try:
            for item, label in zip(items, labels, strict=True):
                self.params = {**run_params, **item}
                if not list_mode:
                    results.append(self.process())
                    continue
                try:
                    result = self.process()
                except MispApiError as e:
                    raise MispModuleError(f"{label}: {e}", status=e.status, misp_message=e.message, url=e.path) from e
                except MispModuleError as e:
                    e.msg = f"{label}: {e.msg}"
                    raise
                ident = {k: item[k] for k in self.identity_keys if item.get(k) is not None}
                results.append({**ident, **result})
        except MispModuleError as e:
            if list_mode:  # what was done before the failure
                e.details.setdefault("changed", any(r.get("changed") for r in results))
                e.details.setdefault("results", results)
            raise
        finally:
            self.params = run_params
        if not list_mode:
            return {**results[0], **self.run_result}
        before, after = {}, {}
        for label, result in zip(labels, results, strict=True):
            if result.get("changed"):
                diff = result.get("diff") or {}
                before[label] = diff.get("before", {})
                after[label] = diff.get("after", {})
        return {
            "changed": any(r.get("changed") for r in results),
            "diff": {"before": before, "after": after},
            "results": results,
            **self.run_result,
        }

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
    # The benchmark adds these up: a no-change run should cost one list call per object type.
    result.setdefault("api_calls", client.api_calls)
    module.exit_json(**result)


def run_module(manager_cls, argument_spec, transport=None, **ansible_module_kwargs):
    """Build AnsibleModule from the common + the module's spec and run ``manager_cls``."""
    spec = misp_argument_spec()
    spec.update(argument_spec)
    ansible_module_kwargs.setdefault("supports_check_mode", True)
    module = AnsibleModule(argument_spec=spec, **ansible_module_kwargs)
    execute(module, manager_cls, client_from_module(module, transport=transport))
