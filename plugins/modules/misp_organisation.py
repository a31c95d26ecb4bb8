#!/usr/bin/python
# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: misp_organisation
short_description: Manage MISP organisations (local or remote), found by id, UUID or name
version_added: 0.1.0
description:
  - Creates, updates or deletes one MISP organisation (the options below), or many with
    O(organisations) (list mode), in one task.
  - Reads all organisations with one C(GET /organisations/index/scope:all) per run, whatever the
    number of organisations, compares and writes only the fields that differ
    (C(POST /admin/organisations/add|edit/<id>), C(DELETE /admin/organisations/delete/<id>)).
    A run without changes makes that one call.
  - The organisation is found by O(id), else by O(uuid), else by O(name) (case-insensitive).
    Giving O(uuid) and O(name) for an organisation found by name sets its UUID, which is how
    the organisation created by C(cake user init) gets the inventory's UUID.
author:
  - mispops contributors (!UNKNOWN)
extends_documentation_fragment:
  - mispops.misp.misp
  - mispops.misp.misp.writes
attributes:
  diff_mode:
    description: Shows the changed fields before and after.
    support: full
options:
  organisations:
    description:
      - List mode. Each element describes one organisation with the same keys as the
        single-organisation options (O(name), O(uuid), O(id), O(description), O(type), O(nationality),
        O(sector), O(contacts), O(local), O(restricted_to_domain), O(state)); they are applied in
        list order.
      - Mutually exclusive with those single-organisation options. An organisation may be listed
        only once.
      - Elements are checked first; when one fails, the elements already applied stay applied and
        the failure lists their results.
    type: list
    elements: dict
    suboptions:
      name:
        description: See O(name).
        type: str
      uuid:
        description: See O(uuid).
        type: str
      id:
        description: See O(id).
        type: int
      description:
        description: See O(description).
        type: str
      type:
        description: See O(type).
        type: str
      nationality:
        description: See O(nationality).
        type: str
      sector:
        description: See O(sector).
        type: str
      contacts:
        description: See O(contacts).
        type: str
      local:
        description: See O(local).
        type: bool
      restricted_to_domain:
        description: See O(restricted_to_domain).
        type: list
        elements: str
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
        default: present
  name:
    description:
      - Name of the organisation (unique in MISP). Required to create one.
    type: str
  uuid:
    description:
      - UUID of the organisation. Keep it in the inventory so all MISP instances of a
        community know the organisation under the same identity.
      - MISP only accepts lower-case UUIDs; the module lower-cases it.
    type: str
  id:
    description:
      - Numeric id of an existing organisation (for example V(1), the host organisation
        created by C(cake user init)). Used only to find it.
    type: int
  description:
    description: Free-text description.
    type: str
  type:
    description: Organisation type, for example V(CSIRT) or V(ADMIN).
    type: str
  nationality:
    description: Country, as MISP's country list names it (for example V(Luxembourg)).
    type: str
  sector:
    description: Sector, for example V(Financial).
    type: str
  contacts:
    description: Contact information (free text).
    type: str
  local:
    description:
      - V(true) for an organisation with users on this instance, V(false) for a remote
        (known) organisation. MISP's REST default for new organisations is V(true).
    type: bool
  restricted_to_domain:
    description: E-mail domains users of this organisation must have.
    type: list
    elements: str
  state:
    description: Whether the organisation should exist.
    type: str
    choices: [present, absent]
    default: present
notes:
  - MISP refuses to delete an organisation that still has users or events.
  - One of O(name), O(uuid), O(id) or O(organisations) is required.
"""

EXAMPLES = r"""
- name: Name the host organisation and give it the inventory UUID
  mispops.misp.misp_organisation:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    id: 1
    name: CERT-EX
    uuid: 5f8a4c1e-2b7d-4e0f-9a61-3c2d8e7b9a10
    type: CSIRT
    nationality: Luxembourg
    sector: Financial

- name: Add a remote member organisation
  mispops.misp.misp_organisation:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    name: Bank A
    uuid: 0b2e6d0c-7c9a-4f1e-8d3b-6a5f4e3d2c1b
    local: false
    sector: Financial

- name: All organisations of the community in one task (one list call when nothing changes)
  mispops.misp.misp_organisation:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    organisations:
      - name: Bank A
        uuid: 0b2e6d0c-7c9a-4f1e-8d3b-6a5f4e3d2c1b
        local: false
        sector: Financial
      - name: Bank B
        uuid: 7d1c3b5a-9e8f-4a2b-8c6d-1e2f3a4b5c6d
        local: false
      - name: Old Org
        state: absent

- name: Remove an organisation
  mispops.misp.misp_organisation:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    name: Old Org
    state: absent
"""

RETURN = r"""
organisation:
  description: The organisation after the run (what MISP returned; in check mode the expected state).
  returned: when state is present, single-organisation mode
  type: dict
  sample: {"id": "2", "name": "Bank A", "uuid": "0b2e6d0c-7c9a-4f1e-8d3b-6a5f4e3d2c1b", "local": false}
results:
  description:
    - One result per element of O(organisations), in list order, each with the element's
      C(name), C(uuid) and C(id) as given, C(changed), C(diff) and C(organisation) (when present).
  returned: list mode
  type: list
  elements: dict
  sample: [{"name": "Bank A", "changed": false, "diff": {"before": {}, "after": {}},
            "organisation": {"id": "2", "name": "Bank A", "uuid": "0b2e6d0c-7c9a-4f1e-8d3b-6a5f4e3d2c1b"}}]
diff:
  description:
    - Changed fields before and after.
    - In list mode only the changed organisations, keyed by name (else UUID, else id), each with
      only its changed fields.
  returned: always
  type: dict
  sample: {"before": {"Bank A": {"sector": "Financial"}}, "after": {"Bank A": {"sector": "Banking"}}}
api_calls:
  description: Number of HTTP requests made to MISP.
  returned: always
  type: int
  sample: 1
"""

from ansible_collections.mispops.misp.plugins.module_utils.misp_module import (
    MispManager,
    find_one,
    list_argument_spec,
    list_mode_rules,
    run_module,
    unwrap,
)

FIELDS = ("name", "uuid", "description", "type", "nationality", "sector", "contacts", "local", "restricted_to_domain")

# The options of one organisation: top-level options (single mode) and elements of organisations.
ITEM_SPEC = dict(
    name=dict(type="str"),
    uuid=dict(type="str"),
    id=dict(type="int"),
    description=dict(type="str"),
    type=dict(type="str"),
    nationality=dict(type="str"),
    sector=dict(type="str"),
    contacts=dict(type="str"),
    local=dict(type="bool"),
    restricted_to_domain=dict(type="list", elements="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)
ARGUMENT_SPEC = list_argument_spec("organisations", ITEM_SPEC)


class OrganisationManager(MispManager):
    list_option = "organisations"
    item_spec = ITEM_SPEC
    identity_keys = ("name", "uuid", "id")

    def check_item(self, item):
        if item["name"] is None and item["uuid"] is None and item["id"] is None:
            self.fail("one of name, uuid or id is required")

    def process(self):
        p = self.params
        if p["uuid"]:
            p["uuid"] = p["uuid"].lower()
        current = self.find()
        desired = {f: p[f] for f in FIELDS}
        if current is None and p["state"] == "present" and not p["name"]:
            self.fail("name is required to create an organisation")
        if current is None and p["id"] is not None and p["state"] == "present":
            self.fail(f"Organisation id {p['id']} not found; id can only select an existing organisation")
        changed, diff, org = self.ensure(
            current,
            desired,
            state=p["state"],
            create=lambda fields: unwrap(self.client.post("/admin/organisations/add", fields), "Organisation"),
            update=lambda cur, changes: unwrap(
                self.client.post(f"/admin/organisations/edit/{cur['id']}", changes), "Organisation"
            ),
            delete=lambda cur: self.client.delete(f"/admin/organisations/delete/{cur['id']}"),
        )
        result = dict(changed=changed, diff=diff)
        if p["state"] == "present":
            result["organisation"] = org
        return result

    def find(self):
        p = self.params
        orgs = self.lookup.organisations()  # one list call per run, whatever the number of elements
        if p["id"] is not None:
            return find_one(orgs, p["id"], keys=("id",))
        found = find_one(orgs, p["uuid"], keys=("uuid",)) if p["uuid"] else None
        if found is None and p["name"]:
            found = find_one(orgs, p["name"], keys=("name",))
        return found


def main():
    run_module(
        OrganisationManager, ARGUMENT_SPEC, **list_mode_rules("organisations", ITEM_SPEC, ("name", "uuid", "id"))
    )


if __name__ == "__main__":
    main()
