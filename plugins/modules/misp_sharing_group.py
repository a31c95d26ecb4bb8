#!/usr/bin/python
# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: misp_sharing_group
short_description: Manage MISP sharing groups and their member organisations and servers
version_added: "1.0.0"
description:
  - Creates, updates or deletes a sharing group, and makes its organisation and server
    lists match the given ones (members are added, changed and removed as needed); or many
    sharing groups with O(sharing_groups) (list mode), in one task.
  - The sharing group is found by O(uuid) when given, else by O(name). Give a fixed
    O(uuid) (generated once, kept in the inventory) so that renames are possible and
    the group has the same UUID on every synced instance.
author:
  - mispops contributors (!UNKNOWN)
options:
  sharing_groups:
    description:
      - List mode. Each element describes one sharing group with the same keys as the
        single-group options (O(uuid), O(name), O(state), O(description), O(releasability),
        O(active), O(roaming), O(organisations), O(servers)); they are applied in list order.
        O(remove_servers_unsafe) applies to all of them.
      - Mutually exclusive with those single-group options. A group may be listed only once.
      - Elements are checked first; when one fails, the elements already applied stay applied and
        the failure lists their results.
    type: list
    elements: dict
    suboptions:
      uuid:
        description: See O(uuid).
        type: str
      name:
        description: See O(name).
        type: str
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
        default: present
      description:
        description: See O(description).
        type: str
      releasability:
        description: See O(releasability).
        type: str
      active:
        description: See O(active).
        type: bool
      roaming:
        description: See O(roaming).
        type: bool
      organisations:
        description: See O(organisations).
        type: list
        elements: dict
        suboptions:
          uuid:
            description: See O(organisations[].uuid).
            type: str
          name:
            description: See O(organisations[].name).
            type: str
          extend:
            description: See O(organisations[].extend).
            type: bool
            default: false
      servers:
        description: See O(servers).
        type: list
        elements: dict
        suboptions:
          url:
            description: See O(servers[].url).
            type: str
          name:
            description: See O(servers[].name).
            type: str
          local:
            description: See O(servers[].local).
            type: bool
            default: false
          all_orgs:
            description: See O(servers[].all_orgs).
            type: bool
            default: false
  uuid:
    description:
      - UUID of the sharing group. Used as is when the group is created.
    type: str
  name:
    description:
      - Name of the sharing group (unique in MISP). Required to create it.
    type: str
  state:
    description:
      - V(present) creates or updates the group, V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
  description:
    description: Description of the group.
    type: str
  releasability:
    description: Free-text releasability statement.
    type: str
  active:
    description:
      - Whether the group is active (selectable for new data).
      - MISP's REST edit cannot change this flag on an existing group (only the web UI can);
        the module sets it at creation and fails with an explanation when an existing group differs.
    type: bool
  roaming:
    description:
      - V(true) = not bound to the listed servers; data goes to any instance whose remote
        organisation is a member. V(false) needs at least one entry in O(servers).
    type: bool
  organisations:
    description:
      - The complete list of member organisations. Organisations not listed are removed.
        Omit the option to leave members alone.
      - MISP does not add the creating organisation automatically to a group created over
        the API; list your own organisation explicitly.
    type: list
    elements: dict
    suboptions:
      uuid:
        description:
          - UUID of the organisation (preferred).
          - If it does not exist locally and O(organisations[].name) is also given, MISP
            creates it as an external organisation.
        type: str
      name:
        description: Name of the organisation (used when O(organisations[].uuid) is not given).
        type: str
      extend:
        description: The organisation may edit the group.
        type: bool
        default: false
  servers:
    description:
      - The complete list of servers (instances) of the group. Servers not listed are removed.
        Omit the option to leave servers alone.
      - Remote servers must already exist as server entries (see M(mispops.misp.misp_server)).
      - The local instance cannot be removed over the API (MISP refuses server 0); when it is a
        member but not listed, it is left in place with a warning. MISP adds it automatically to a
        non-roaming group created without servers.
    type: list
    elements: dict
    suboptions:
      url:
        description: URL of a server entry (trailing slashes ignored).
        type: str
      name:
        description: Name of a server entry (used when O(servers[].url) is not given).
        type: str
      local:
        description: This entry is the local instance (URL and name are then ignored).
        type: bool
        default: false
      all_orgs:
        description: All organisations of that instance may see the data, not only the member organisations.
        type: bool
        default: false
  remove_servers_unsafe:
    description:
      - MISP 2.4 and 2.5 before the fix of MISP pull request 10640 (February 2026) delete the
        wrong row in C(removeServer) (the row whose id equals the server id, possibly in
        another sharing group). By default the module only removes a server when that row is
        the right one and otherwise fails with an explanation.
      - Set to V(true) only on MISP versions that contain the fix.
    type: bool
    default: false
extends_documentation_fragment:
  - mispops.misp.misp
  - mispops.misp.misp.writes
attributes:
  check_mode:
    support: full
    description: Nothing is written; the result shows what would change.
  diff_mode:
    support: full
    description: Only changed fields and member lists are shown.
notes:
  - Reads current state once per run, whatever the number of groups, with
    C(GET /sharing_groups/index/limit:9999) (MISP pages this index by 60 without a limit), and
    C(/sharing_groups/index/true/limit:9999) for inactive groups only when a group is not among
    the active ones, plus one organisation list (C(GET /organisations/index/scope:all)) when
    O(organisations) are given and one server list (C(GET /servers/index)) when remote
    O(servers) are given. A group that is written is read back with C(GET /sharing_groups/view/<uuid>).
  - One of O(uuid), O(name) or O(sharing_groups) is required.
  - MISP's edit never removes members and addOrg cannot change C(extend); the module sends
    additions and C(extend)/C(all_orgs) changes in one edit call and removes members with
    removeOrg/removeServer.
  - The key needs C(perm_sharing_group); a site admin key is assumed for organisations it is not part of.
seealso:
  - module: mispops.misp.misp_server
"""

EXAMPLES = r"""
- name: Sharing group for the financial-sector community
  mispops.misp.misp_sharing_group:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    uuid: 6a3c2a3e-8b9f-4f51-a1a0-3c1f5e0d7b11
    name: FinSec community
    description: Members of the financial-sector CERT
    releasability: FinSec members only
    roaming: false
    organisations:
      - uuid: "{{ misp_host_org_uuid }}"
        extend: true
      - uuid: 5f6c8f6e-1b2c-4c1d-9a51-0242ac120002
        name: Bank A
    servers:
      - local: true
      - url: https://misp-b.example.org
        all_orgs: false

- name: All sharing groups in one task (one list call per type when nothing changes)
  mispops.misp.misp_sharing_group:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    sharing_groups:
      - uuid: 6a3c2a3e-8b9f-4f51-a1a0-3c1f5e0d7b11
        name: FinSec community
        roaming: true
        organisations:
          - uuid: "{{ misp_host_org_uuid }}"
            extend: true
      - uuid: 0f4e2d1c-3b5a-4c6d-8e7f-9a0b1c2d3e4f
        state: absent

- name: Remove a sharing group
  mispops.misp.misp_sharing_group:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    uuid: 6a3c2a3e-8b9f-4f51-a1a0-3c1f5e0d7b11
    state: absent
"""

RETURN = r"""
sharing_group:
  description:
    - The sharing group after the change (in check mode, as it would be).
    - C(organisations) and C(servers) are simplified member lists (server id 0 = local instance).
  returned: when O(state=present), single-group mode
  type: dict
  sample: {"id": "4", "uuid": "6a3c2a3e-8b9f-4f51-a1a0-3c1f5e0d7b11", "name": "FinSec community",
           "active": true, "roaming": false, "description": "...", "releasability": "...",
           "organisations": [{"uuid": "5f6c...", "name": "Bank A", "extend": false}],
           "servers": [{"id": 0, "name": "Local instance", "all_orgs": false}]}
results:
  description:
    - One result per element of O(sharing_groups), in list order, each with the element's C(name)
      and C(uuid) as given, C(changed), C(diff) and C(sharing_group) (when present).
  returned: list mode
  type: list
  elements: dict
  sample: [{"uuid": "6a3c2a3e-8b9f-4f51-a1a0-3c1f5e0d7b11", "name": "FinSec community", "changed": false,
            "diff": {"before": {}, "after": {}}, "sharing_group": {"id": "4", "name": "FinSec community"}}]
diff:
  description:
    - Changed fields and member lists before and after.
    - In list mode only the changed groups, keyed by name (else UUID).
  returned: always
  type: dict
  sample: {"before": {"FinSec community": {"description": "Members"}},
           "after": {"FinSec community": {"description": "Members of the financial-sector CERT"}}}
api_calls:
  description: Number of HTTP requests made to MISP.
  returned: always
  type: int
  sample: 2
"""

from ansible_collections.mispops.misp.plugins.module_utils.misp_module import (
    MispManager,
    changed_keys,
    list_argument_spec,
    list_mode_rules,
    run_module,
    to_bool,
    unwrap_list,
)
from ansible_collections.mispops.misp.plugins.module_utils.misp_sync import same_url

FIELDS = ("name", "description", "releasability", "roaming")
# The REST index is paginated (60 per page, sorted by name): ask for everything in one page.
ACTIVE_PATH = "/sharing_groups/index/limit:9999"
INACTIVE_PATH = "/sharing_groups/index/true/limit:9999"

# The options of one sharing group: top-level options (single mode) and elements of sharing_groups.
ITEM_SPEC = dict(
    uuid=dict(type="str"),
    name=dict(type="str"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    description=dict(type="str"),
    releasability=dict(type="str"),
    active=dict(type="bool"),
    roaming=dict(type="bool"),
    organisations=dict(
        type="list",
        elements="dict",
        options=dict(
            uuid=dict(type="str"),
            name=dict(type="str"),
            extend=dict(type="bool", default=False),
        ),
    ),
    servers=dict(
        type="list",
        elements="dict",
        options=dict(
            url=dict(type="str"),
            name=dict(type="str"),
            local=dict(type="bool", default=False),
            all_orgs=dict(type="bool", default=False),
        ),
    ),
)
ARGUMENT_SPEC = list_argument_spec(
    "sharing_groups", ITEM_SPEC, dict(remove_servers_unsafe=dict(type="bool", default=False))
)


def _lower(value):
    return str(value).lower() if value is not None else None


def _sg_list(resp):
    if isinstance(resp, dict):
        resp = resp.get("response", [])
    return [item for item in (resp or []) if isinstance(item, dict) and isinstance(item.get("SharingGroup"), dict)]


def _server_id(row):
    sid = row.get("server_id")
    if sid is None:
        sid = (row.get("Server") or {}).get("id")
    try:
        return int(sid or 0)
    except (TypeError, ValueError):
        return 0


def current_members(item):
    """{org uuid: {...}} and {server id: {...}} from an index/view item."""
    orgs = {}
    for row in item.get("SharingGroupOrg") or []:
        org = row.get("Organisation") or {}
        key = _lower(org.get("uuid")) or f"id:{row.get('org_id')}"
        orgs[key] = {
            "uuid": org.get("uuid"),
            "name": org.get("name"),
            "id": str(org.get("id") or row.get("org_id")),
            "extend": bool(to_bool(row.get("extend"))),
        }
    servers = {}
    for row in item.get("SharingGroupServer") or []:
        sid = _server_id(row)
        srv = row.get("Server") or {}
        servers[sid] = {
            "id": sid,
            "name": srv.get("name") or ("Local instance" if sid == 0 else None),
            "url": srv.get("url"),
            "all_orgs": bool(to_bool(row.get("all_orgs"))),
            "row_id": row.get("id"),
        }
    return orgs, servers


def flatten(item):
    """Index/view item -> SharingGroup fields plus simplified member lists."""
    sg = dict(item.get("SharingGroup") or {})
    orgs, servers = current_members(item)
    sg["organisations"] = SharingGroupManager.show_orgs(orgs)
    sg["servers"] = [
        {**s, "url": servers[s["id"]]["url"]} if servers[s["id"]]["url"] else s
        for s in SharingGroupManager.show_servers(servers)
    ]
    return sg


class SharingGroupManager(MispManager):
    list_option = "sharing_groups"
    item_spec = ITEM_SPEC
    identity_keys = ("name", "uuid")

    def check_item(self, item):
        if not item["uuid"] and not item["name"]:
            self.fail("One of uuid or name is required.")
        for entry in item["organisations"] or []:
            if not entry.get("uuid") and not entry.get("name"):
                self.fail("Each organisations entry needs a uuid or a name.")
        for entry in item["servers"] or []:
            if not entry.get("local") and not entry.get("url") and not entry.get("name"):
                self.fail("Each servers entry needs url, name or local=true.")

    def process(self):
        p = self.params
        current = self.find()
        if p["state"] == "absent":
            if current is None:
                return {"changed": False, "diff": {"before": {}, "after": {}}}
            sg = current["SharingGroup"]
            if not self.check_mode:
                self.client.post(f"/sharing_groups/delete/{sg['id']}")
            return {"changed": True, "diff": {"before": flatten(current), "after": {}}}
        return self.present(current)

    # -- reading -------------------------------------------------------------------------
    def groups(self, path):
        """One read of a sharing group index per run."""
        cache = self.__dict__.setdefault("_groups", {})
        if path not in cache:
            cache[path] = _sg_list(self.client.get(path))
        return cache[path]

    def find(self):
        """Active groups first, inactive ones (index/true) only when needed."""
        p = self.params
        paths = [ACTIVE_PATH, INACTIVE_PATH]
        if p["active"] is False:
            paths.reverse()
        by_name = None
        for path in paths:
            for item in self.groups(path):
                sg = item["SharingGroup"]
                if p["uuid"] and _lower(sg.get("uuid")) == _lower(p["uuid"]):
                    return item
                if p["name"] and sg.get("name") == p["name"]:
                    if not p["uuid"]:
                        return item
                    by_name = item
        if by_name is not None:
            self.fail(
                f"Sharing group name '{p['name']}' is already used by the group with UUID "
                f"{by_name['SharingGroup'].get('uuid')}, not {p['uuid']}; names are unique in MISP."
            )
        return None

    def servers_index(self):
        if not hasattr(self, "_servers"):
            self._servers = unwrap_list(self.client.get("/servers/index"), "Server")
        return self._servers

    # -- desired members -----------------------------------------------------------------
    def desired_orgs(self):
        wanted = {}
        for entry in self.params["organisations"]:
            uuid, name = entry.get("uuid"), entry.get("name")
            if not uuid and not name:
                self.fail("Each organisations entry needs a uuid or a name.")
            org = self.lookup.organisation(uuid or name, required=False)
            if org is not None and uuid and _lower(org.get("uuid")) != _lower(uuid):
                org = None
            if org is None:
                if not (uuid and name):
                    self.fail(
                        f"Organisation '{uuid or name}' not found. Give both uuid and name to let MISP "
                        "create it as an external organisation."
                    )
                org = {"uuid": uuid, "name": name, "id": None}
            wanted[_lower(org["uuid"])] = {
                "uuid": org["uuid"],
                "name": org.get("name"),
                "id": None if org.get("id") is None else str(org["id"]),
                "extend": bool(entry.get("extend")),
            }
        return wanted

    def desired_servers(self):
        wanted = {}
        for entry in self.params["servers"]:
            if entry.get("local"):
                wanted[0] = {"id": 0, "name": "Local instance", "url": None, "all_orgs": bool(entry.get("all_orgs"))}
                continue
            url, name = entry.get("url"), entry.get("name")
            if not url and not name:
                self.fail("Each servers entry needs url, name or local=true.")
            match = None
            for srv in self.servers_index():
                if (url and same_url(srv.get("url"), url)) or (not url and srv.get("name") == name):
                    match = srv
                    break
            if match is None:
                self.fail(f"Server '{url or name}' is not a server entry of this MISP; create it first (misp_server).")
            sid = int(match["id"])
            wanted[sid] = {
                "id": sid,
                "name": match.get("name"),
                "url": match.get("url"),
                "all_orgs": bool(entry.get("all_orgs")),
            }
        return wanted

    # -- present -------------------------------------------------------------------------
    def present(self, current):
        p = self.params
        want_orgs = self.desired_orgs() if p["organisations"] is not None else None
        want_servers = self.desired_servers() if p["servers"] is not None else None
        sg_now = current["SharingGroup"] if current else {}
        roaming = p["roaming"] if p["roaming"] is not None else to_bool(sg_now.get("roaming", False))
        if not roaming and want_servers is not None and not want_servers:
            self.fail(
                "A non-roaming sharing group needs at least one server (list the local instance with local: true)."
            )
        if current is None:
            return self.create(want_orgs, want_servers)
        return self.update(current, want_orgs, want_servers)

    def create(self, want_orgs, want_servers):
        p = self.params
        if not p["name"]:
            self.fail("Sharing group not found; name is required to create it.")
        body = {
            k: p[k] for k in ("uuid", "name", "description", "releasability", "active", "roaming") if p[k] is not None
        }
        if want_orgs:
            body["SharingGroupOrg"] = [self.org_entry(o) for o in want_orgs.values()]
        if want_servers and not (list(want_servers) == [0] and not want_servers[0]["all_orgs"]):
            # Only the local instance without all_orgs: MISP adds exactly that by itself.
            body["SharingGroupServer"] = [self.server_entry(s) for s in want_servers.values()]
        after = {k: v for k, v in body.items() if k not in ("SharingGroupOrg", "SharingGroupServer")}
        if want_orgs is not None:
            after["organisations"] = self.show_orgs(want_orgs)
        if want_servers is not None:
            after["servers"] = self.show_servers(want_servers)
        result = {"changed": True, "diff": {"before": {}, "after": after}}
        if self.check_mode:
            result["sharing_group"] = after
            return result
        created = self.client.post("/sharing_groups/add", body)
        sg = (created or {}).get("SharingGroup", created) or {}
        ref = sg.get("uuid") or sg.get("id") or p["uuid"]
        result["sharing_group"] = flatten(self.client.get(f"/sharing_groups/view/{ref}"))
        return result

    def update(self, current, want_orgs, want_servers):
        p = self.params
        sg = current["SharingGroup"]
        sg_id = sg["id"]
        have_orgs, have_servers = current_members(current)
        fields = changed_keys(sg, {k: p[k] for k in FIELDS})
        if p["active"] is not None and to_bool(sg.get("active")) != p["active"]:
            self.fail(
                f"Sharing group '{sg.get('name')}' is {'active' if to_bool(sg.get('active')) else 'inactive'}; "
                "MISP's REST API cannot change 'active' of an existing group. Change it in the web UI "
                "(Sharing Groups > Edit) or recreate the group."
            )

        org_set, org_remove = [], []
        if want_orgs is not None:
            org_set = [o for k, o in want_orgs.items() if k not in have_orgs or have_orgs[k]["extend"] != o["extend"]]
            org_remove = [o for k, o in have_orgs.items() if k not in want_orgs]
        srv_set, srv_remove = [], []
        if want_servers is not None:
            srv_set = [
                s
                for k, s in want_servers.items()
                if k not in have_servers or have_servers[k]["all_orgs"] != s["all_orgs"]
            ]
            srv_remove = [s for k, s in have_servers.items() if k not in want_servers]
            if any(s["id"] == 0 for s in srv_remove):
                # addServer/removeServer refuse server 0 ("Invalid Server."): nothing to do but say so.
                self.module.warn(
                    "The local instance is a server of this sharing group and cannot be removed over MISP's API; "
                    "left in place (remove it in the web UI if needed)."
                )
                srv_remove = [s for s in srv_remove if s["id"] != 0]
                want_servers = {**want_servers, 0: have_servers[0]}

        if not (fields or org_set or org_remove or srv_set or srv_remove):
            return {"changed": False, "diff": {"before": {}, "after": {}}, "sharing_group": flatten(current)}

        if srv_remove:
            self.check_server_removal(sg, srv_remove)

        before = {k: sg.get(k) for k in fields}
        after = dict(fields)
        if org_set or org_remove:
            before["organisations"] = self.show_orgs(have_orgs)
            after["organisations"] = self.show_orgs(want_orgs)
        if srv_set or srv_remove:
            before["servers"] = self.show_servers(have_servers)
            after["servers"] = self.show_servers(want_servers)
        result = {"changed": True, "diff": {"before": before, "after": after}}

        if self.check_mode:
            planned = flatten(current)
            planned.update(fields)
            if "organisations" in after:
                planned["organisations"] = after["organisations"]
            if "servers" in after:
                planned["servers"] = after["servers"]
            result["sharing_group"] = planned
            return result

        if fields or org_set or srv_set:
            body = dict(fields)
            if org_set:
                body["SharingGroupOrg"] = [self.org_entry(o) for o in org_set]
            if srv_set:
                body["SharingGroupServer"] = [self.server_entry(s) for s in srv_set]
            self.client.post(f"/sharing_groups/edit/{sg['uuid'] or sg_id}", body)
        for org in org_remove:
            self.client.post(f"/sharing_groups/removeOrg/{sg_id}/{org['id']}")
        for srv in srv_remove:
            self.client.post(f"/sharing_groups/removeServer/{sg_id}/{srv['id']}")
        result["sharing_group"] = flatten(self.client.get(f"/sharing_groups/view/{sg['uuid'] or sg_id}"))
        return result

    def check_server_removal(self, sg, srv_remove):
        """Refuse removals the buggy removeServer (MISP < fix of PR 10640) would get wrong."""
        if self.params["remove_servers_unsafe"]:
            return
        view = self.client.get(f"/sharing_groups/view/{sg['uuid'] or sg['id']}")
        rows = {_server_id(row): row.get("id") for row in (view or {}).get("SharingGroupServer") or []}
        unsafe = [s for s in srv_remove if str(rows.get(s["id"])) != str(s["id"])]
        if unsafe:
            names = ", ".join(str(s.get("name") or s["id"]) for s in unsafe)
            self.fail(
                f"Not removing server(s) {names} from sharing group '{sg.get('name')}': MISP 2.4/2.5 removeServer "
                "deletes the sharing_group_servers row whose id equals the server id (fixed by MISP PR 10640, "
                "2026-02), which here is not the right row and could belong to another group. Remove the server "
                "in the web UI, or set remove_servers_unsafe=true if this MISP contains the fix."
            )

    # -- request bodies and display ------------------------------------------------------
    @staticmethod
    def org_entry(org):
        entry = {"uuid": org["uuid"]}
        if org.get("name"):
            entry["name"] = org["name"]
        return {"extend": org["extend"], "Organisation": entry}

    def server_entry(self, srv):
        url = srv["url"]
        if srv["id"] == 0:
            url = self.local_baseurl()
        # all_orgs goes on both levels: the create path reads it inside "Server", the edit path outside.
        return {"all_orgs": srv["all_orgs"], "Server": {"url": url, "all_orgs": srv["all_orgs"]}}

    def local_baseurl(self):
        # MISP maps a server URL equal to MISP.baseurl to the local instance (server_id 0).
        if not hasattr(self, "_baseurl"):
            self._baseurl = (self.client.get("/servers/getSetting/MISP.baseurl") or {}).get("value")
            if not self._baseurl:
                self.fail("Cannot read MISP.baseurl, needed to add the local instance to a sharing group.")
        return self._baseurl

    @staticmethod
    def show_orgs(orgs):
        return sorted(
            ({"uuid": o["uuid"], "name": o.get("name"), "extend": o["extend"]} for o in orgs.values()),
            key=lambda o: (o["name"] or "", o["uuid"] or ""),
        )

    @staticmethod
    def show_servers(servers):
        return sorted(
            ({"id": s["id"], "name": s.get("name"), "all_orgs": s["all_orgs"]} for s in servers.values()),
            key=lambda s: s["id"],
        )


def main():
    run_module(SharingGroupManager, ARGUMENT_SPEC, **list_mode_rules("sharing_groups", ITEM_SPEC, ("uuid", "name")))


if __name__ == "__main__":
    main()
