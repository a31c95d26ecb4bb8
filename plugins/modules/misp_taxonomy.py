#!/usr/bin/python
# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: misp_taxonomy
short_description: Import a private MISP taxonomy, enable it and its tags, make it required
version_added: "1.0.0"
description:
  - Imports a taxonomy from a C(machinetag.json) document (O(src) or O(content)) with
    C(POST /taxonomies/import), for taxonomies that are not part of MISP's library, such as
    the project's Security & Privacy threat taxonomy.
  - MISP re-creates a taxonomy on every import (new id, C(required) lost), so the module
    imports only when the taxonomy is missing or its content differs (see O(compare)).
  - Also works on taxonomies already known to MISP (for example V(tlp)); give only O(namespace).
  - Enables the taxonomy, creates all its tags (C(POST /taxonomies/addTag/<id>)) and sets
    or clears C(required).
author:
  - mispops contributors (!UNKNOWN)
options:
  src:
    description:
      - Path of a C(machinetag.json) file on the host that runs the module.
    type: path
  content:
    description:
      - The C(machinetag.json) document itself, as a dict or a JSON string.
    type: raw
  namespace:
    description:
      - Namespace of a taxonomy already in MISP. Taken from the document when O(src) or
        O(content) is given (and must then match if given too).
      - Compared case-insensitively; MISP expects lower-case namespaces.
    type: str
  compare:
    description:
      - How an existing taxonomy is compared with the document.
      - V(content) imports when the document differs from MISP's export of the taxonomy
        (C(GET /taxonomies/export/<id>)), or has another version. Namespace, description,
        version, exclusive flags, predicates and values with their stored fields are compared;
        fields the document does not set are ignored.
      - V(version) imports only when the document's C(version) is higher than MISP's (what
        MISP's own library update does); it needs no extra request.
    type: str
    choices: [content, version]
    default: content
  enabled:
    description: Enable (or disable) the taxonomy.
    type: bool
    default: true
  enable_tags:
    description:
      - Create every tag of the taxonomy (MISP does not create tags on enable). Done when the
        taxonomy has fewer visible tags than entries, or after an import. Needs O(enabled=true).
    type: bool
    default: true
  required:
    description:
      - Mark the taxonomy as required (events published from the UI need one of its tags).
        Re-applied after every import, which drops it. Omit to leave it alone.
    type: bool
extends_documentation_fragment:
  - mispops.misp.misp
  - mispops.misp.misp.writes
attributes:
  check_mode:
    support: full
    description:
      - Nothing is written; the result tells whether an import, enable, tag creation or
        required change would happen.
  diff_mode:
    support: full
    description: Shows version, enabled, required and whether the content changed.
  idempotent:
    support: full
notes:
  - Needs a site admin key (import, enable, addTag and toggleRequired are site-admin only).
  - Reads current state with one C(GET /taxonomies/index) call, plus C(GET /taxonomies/export/<id>)
    with O(compare=content) when the versions are equal.
  - Requires the document's C(predicates) to be a list and every C(values[].predicate) to name
    one of them (MISP rejects the import otherwise).
"""

EXAMPLES = r"""
- name: Load the Security & Privacy threat taxonomy, enable it and its tags
  mispops.misp.misp_taxonomy:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    src: /etc/misp/taxonomies/privacy-threat/machinetag.json
    required: true

- name: Enable the TLP taxonomy shipped with MISP
  mispops.misp.misp_taxonomy:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    namespace: tlp

- name: Import from the controller's copy (file read by a lookup)
  mispops.misp.misp_taxonomy:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    content: "{{ lookup('ansible.builtin.file', 'files/privacy-threat/machinetag.json') | from_json }}"
    compare: version
"""

RETURN = r"""
taxonomy:
  description: The taxonomy after the change (C(id) is null in check mode for a new import).
  returned: always
  type: dict
  sample: {"id": "42", "namespace": "privacy-threat", "version": "1", "enabled": true, "required": true,
           "total_count": 27, "current_count": 27}
imported:
  description: Whether the document was (or in check mode would be) imported.
  returned: always
  type: bool
import_reason:
  description: Why it was imported (V(missing), V(newer version), V(content differs)) or null.
  returned: always
  type: str
tags_created:
  description: Whether addTag was (or would be) called.
  returned: always
  type: bool
"""

import json

from ansible_collections.mispops.misp.plugins.module_utils.misp_module import (
    MispManager,
    run_module,
    to_bool,
    unwrap,
)

ARGUMENT_SPEC = dict(
    src=dict(type="path"),
    content=dict(type="raw"),
    namespace=dict(type="str"),
    compare=dict(type="str", choices=["content", "version"], default="content"),
    enabled=dict(type="bool", default=True),
    enable_tags=dict(type="bool", default=True),
    required=dict(type="bool"),
)

_ENTRY_FIELDS = ("expanded", "description", "colour", "numerical_value")
_PREDICATE_FIELDS = ("expanded", "description", "colour", "numerical_value", "exclusive")


def _int(value, default=None):
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _field(key, value):
    if key == "exclusive":
        # MISP's export leaves out "exclusive" when it is false: absent and false are the same.
        return bool(to_bool(value)) if value not in (None, "") else False
    if value is None or value == "":
        return None
    if key == "numerical_value":
        return _int(value)
    if key == "colour":
        return str(value).lower()
    return str(value).strip()


def _items(doc):
    """{predicate: (fields, {entry: fields})} of a machinetag document or MISP export."""
    out = {}
    for pred in doc.get("predicates") or []:
        if isinstance(pred, dict) and pred.get("value") is not None:
            fields = {k: _field(k, pred.get(k)) for k in _PREDICATE_FIELDS}
            out[str(pred["value"])] = (fields, {})
    for block in doc.get("values") or []:
        if not isinstance(block, dict):
            continue
        entries = out.setdefault(str(block.get("predicate")), ({}, {}))[1]
        for entry in block.get("entry") or []:
            if isinstance(entry, dict) and entry.get("value") is not None:
                entries[str(entry["value"])] = {k: _field(k, entry.get(k)) for k in _ENTRY_FIELDS}
    return out


def _subset(wanted, have):
    """Every field the document sets equals MISP's; fields it leaves out are ignored."""
    return all(v is None or have.get(k) == v for k, v in wanted.items())


def content_differences(doc, exported):
    """List of human-readable differences between a machinetag document and MISP's export."""
    diffs = []
    if str(doc.get("namespace", "")).lower() != str(exported.get("namespace", "")).lower():
        diffs.append("namespace")
    if _int(doc.get("version"), 1) != _int(exported.get("version"), 1):
        diffs.append("version")
    if _field("description", doc.get("description")) != _field("description", exported.get("description")):
        diffs.append("description")
    if bool(to_bool(doc.get("exclusive") or False)) != bool(to_bool(exported.get("exclusive") or False)):
        diffs.append("exclusive")
    want, have = _items(doc), _items(exported)
    if set(want) != set(have):
        diffs.append("predicates: " + ", ".join(sorted(set(want) ^ set(have))))
    for name in sorted(set(want) & set(have)):
        (wfields, wentries), (hfields, hentries) = want[name], have[name]
        if not _subset(wfields, hfields):
            diffs.append(f"predicate {name}")
        if set(wentries) != set(hentries):
            diffs.append(f"values of {name}: " + ", ".join(sorted(set(wentries) ^ set(hentries))))
        for value in sorted(set(wentries) & set(hentries)):
            if not _subset(wentries[value], hentries[value]):
                diffs.append(f"{name}={value}")
    return diffs


class TaxonomyManager(MispManager):
    def run(self):
        p = self.params
        doc = self.document()
        namespace = (doc or {}).get("namespace") or p["namespace"]
        if not namespace:
            self.fail("One of src, content or namespace is required.")
        if doc and p["namespace"] and p["namespace"].lower() != str(namespace).lower():
            self.fail(f"namespace {p['namespace']} does not match the document's namespace {namespace}.")
        result = {"changed": False, "imported": False, "import_reason": None, "tags_created": False}
        before, after = {}, {}
        index = self.client.get("/taxonomies/index") or []
        current = self.find(index, namespace)
        tax = dict(current["Taxonomy"]) if current else None
        total = _int((current or {}).get("total_count"), 0)
        count = _int((current or {}).get("current_count"), 0)

        if tax is None and doc is None:
            self.fail(f"Taxonomy '{namespace}' is not in MISP; give src or content to import it.")

        reason = self.import_reason(doc, tax) if doc is not None else None
        if reason:
            result.update(changed=True, imported=True, import_reason=reason)
            before["version"] = tax.get("version") if tax else None
            after["version"] = str(_int(doc.get("version"), 1))
            before["content"], after["content"] = ("present" if tax else "absent"), "imported"
            was_enabled = to_bool(tax.get("enabled")) if tax else False
            if self.check_mode:
                tax = {"id": tax.get("id") if tax else None, "namespace": namespace, "version": after["version"]}
                tax["enabled"], tax["required"] = was_enabled, False
            else:
                imported = unwrap(self.client.post("/taxonomies/import", doc), "Taxonomy")
                tax = {**(tax or {}), **imported, "required": False}
                tax.setdefault("enabled", was_enabled)
            # One tag per predicate without values, else one per value.
            total = sum(len(entries) or 1 for _fields, entries in _items(doc).values())

        tax_id = tax.get("id")
        if to_bool(tax.get("enabled")) != p["enabled"]:
            action = "enable" if p["enabled"] else "disable"
            before["enabled"], after["enabled"] = to_bool(tax.get("enabled")), p["enabled"]
            result["changed"] = True
            if not self.check_mode:
                self.client.post(f"/taxonomies/{action}/{tax_id}")
            tax["enabled"] = p["enabled"]

        if p["enabled"] and p["enable_tags"] and (reason or count < total):
            result.update(changed=True, tags_created=True)
            before["tags"], after["tags"] = f"{count}/{total}", f"{total}/{total}"
            if not self.check_mode:
                self.client.post(f"/taxonomies/addTag/{tax_id}")
            count = total

        current_required = bool(to_bool(tax.get("required")))
        if p["required"] is not None and current_required != p["required"]:
            before["required"], after["required"] = current_required, p["required"]
            result["changed"] = True
            if not self.check_mode:
                self.client.post(f"/taxonomies/toggleRequired/{tax_id}", {"Taxonomy": {"required": p["required"]}})
            tax["required"] = p["required"]

        tax["total_count"], tax["current_count"] = total, count
        result["taxonomy"] = tax
        result["diff"] = {"before": before, "after": after}
        return result

    # -- helpers -------------------------------------------------------------------------
    def document(self):
        p = self.params
        if p["src"] and p["content"] is not None:
            self.fail("src and content are mutually exclusive.")
        raw = p["content"]
        if p["src"]:
            try:
                with open(p["src"], encoding="utf-8") as handle:
                    raw = handle.read()
            except OSError as e:
                self.fail(f"Cannot read {p['src']}: {e}")
        if raw is None:
            return None
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError as e:
                self.fail(f"The taxonomy document is not valid JSON: {e}")
        if not isinstance(raw, dict):
            self.fail("The taxonomy document must be a JSON object (machinetag.json).")
        self.validate(raw)
        return raw

    def validate(self, doc):
        missing = [k for k in ("namespace", "description", "predicates") if not doc.get(k)]
        if missing:
            self.fail(f"The taxonomy document lacks: {', '.join(missing)}.")
        if not isinstance(doc["predicates"], list) or not isinstance(doc.get("values", []), list):
            self.fail("predicates and values must be lists in a machinetag.json document.")
        names = {str(p.get("value")) for p in doc["predicates"] if isinstance(p, dict)}
        unknown = [str(v.get("predicate")) for v in doc.get("values", []) if str(v.get("predicate")) not in names]
        if unknown:
            self.fail(f"values refer to unknown predicates (MISP: 'Predicate is missing'): {', '.join(unknown)}")
        if doc["namespace"] != str(doc["namespace"]).lower():
            self.module.warn(
                f"Namespace '{doc['namespace']}' is not lower-case; MISP lower-cases namespace lookups, "
                "so some taxonomy actions will not find it."
            )

    @staticmethod
    def find(index, namespace):
        for item in index if isinstance(index, list) else []:
            tax = (item or {}).get("Taxonomy") or {}
            if str(tax.get("namespace", "")).lower() == str(namespace).lower():
                return item
        return None

    def import_reason(self, doc, tax):
        if tax is None:
            return "missing"
        mine, theirs = _int(doc.get("version"), 1), _int(tax.get("version"), 0)
        if mine > theirs:
            return "newer version"
        if self.params["compare"] == "version":
            return None
        if mine != theirs:
            return "content differs (version)"
        exported = self.client.get(f"/taxonomies/export/{tax['id']}")
        diffs = content_differences(doc, exported if isinstance(exported, dict) else {})
        return "content differs: " + "; ".join(diffs[:10]) if diffs else None


def main():
    run_module(TaxonomyManager, ARGUMENT_SPEC, mutually_exclusive=[("src", "content")])


if __name__ == "__main__":
    main()
