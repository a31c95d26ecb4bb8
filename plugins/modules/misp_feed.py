#!/usr/bin/python
# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: misp_feed
short_description: Manage MISP feeds, load MISP's default feed list and enable default feeds
version_added: "1.0.0"
description:
  - With O(url), creates, updates or deletes one feed. Feeds have no UUID and their ids differ
    between instances, so the feed is always found by its URL (the same key MISP uses when it
    loads its default feeds); never by id.
  - With O(feeds) (list mode), does the same for a list of feeds in one task.
  - With O(defaults), applies O(enabled), O(caching_enabled), O(distribution) and
    O(sharing_group) to a list of MISP's default feeds named by name or URL, in one task.
    When one of them is missing, MISP's default feed metadata is loaded first
    (C(POST /feeds/loadDefaultFeeds)).
  - With only O(load_defaults=true), loads MISP's default feed metadata; reported as changed
    when new feeds appeared.
author:
  - mispops contributors (!UNKNOWN)
options:
  feeds:
    description:
      - List mode. Each element describes one feed with the same keys as the single-feed options
        (O(url), O(state), O(name), O(provider), O(source_format), O(input_source), O(enabled),
        O(caching_enabled), O(distribution), O(sharing_group), O(rules), O(settings),
        O(fixed_event), O(delta_merge), O(publish), O(override_ids), O(lookup_visible));
        they are applied in list order. O(load_defaults) and O(fetch_on_enable) apply to all of them
        (the default list is loaded at most once, when a listed feed is missing).
      - Mutually exclusive with those single-feed options and with O(defaults). A URL may be
        listed only once.
      - Elements are checked first; when one fails, the elements already applied stay applied and
        the failure lists their results.
    type: list
    elements: dict
    suboptions:
      url:
        description: See O(url).
        type: str
        required: true
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
        default: present
      name:
        description: See O(name).
        type: str
      provider:
        description: See O(provider).
        type: str
      source_format:
        description: See O(source_format).
        type: str
        choices: [misp, freetext, csv]
      input_source:
        description: See O(input_source).
        type: str
        choices: [network, local]
      enabled:
        description: See O(enabled).
        type: bool
      caching_enabled:
        description: See O(caching_enabled).
        type: bool
      distribution:
        description: See O(distribution).
        type: int
        choices: [0, 1, 2, 3, 4, 5]
      sharing_group:
        description: See O(sharing_group).
        type: str
      rules:
        description: See O(rules).
        type: dict
      settings:
        description: See O(settings).
        type: dict
      fixed_event:
        description: See O(fixed_event).
        type: bool
      delta_merge:
        description: See O(delta_merge).
        type: bool
      publish:
        description: See O(publish).
        type: bool
      override_ids:
        description: See O(override_ids).
        type: bool
      lookup_visible:
        description: See O(lookup_visible).
        type: bool
  url:
    description:
      - URL (or local path, with O(input_source=local)) of the feed. Identifies the feed.
    type: str
  defaults:
    description:
      - Names or URLs of feeds from MISP's default feed list (C(app/files/feed-metadata/defaults.json))
        to configure with the common options. Names are compared case-insensitively.
      - Mutually exclusive with O(url) and O(feeds).
    type: list
    elements: str
  load_defaults:
    description:
      - Load MISP's default feed metadata. MISP skips feeds whose URL already exists, and loads
        every feed disabled with distribution 0.
      - With O(defaults) the list is only loaded when a named feed is missing.
    type: bool
    default: false
  defaults_file:
    description:
      - MISP's default feed metadata file on the host the module runs on
        (V(/var/www/MISP/app/files/feed-metadata/defaults.json) on the MISP host).
      - With it, O(load_defaults) alone compares the file's URLs with MISP's feeds and loads the list
        only when one is missing, so a run that changes nothing costs one list call, and check mode
        names the feeds that loading would add.
      - Without it, or when it cannot be read, the list is loaded on every run (MISP skips the feeds
        it has).
    type: path
  state:
    description:
      - V(present) creates or updates the feed, V(absent) deletes it (only with O(url) or in O(feeds)).
    type: str
    choices: [present, absent]
    default: present
  name:
    description: Name of the feed. Required to create it.
    type: str
  provider:
    description: Provider of the feed. Required to create it.
    type: str
  source_format:
    description:
      - Feed format. MISP's own default is V(freetext).
    type: str
    choices: [misp, freetext, csv]
  input_source:
    description: Fetch over the network or read a local file/directory on the MISP host.
    type: str
    choices: [network, local]
  enabled:
    description: Fetch the feed (create/update events).
    type: bool
  caching_enabled:
    description: Cache the feed's values for correlation lookups.
    type: bool
  distribution:
    description:
      - Distribution of the events created from the feed; 0 your organisation only,
        1 this community, 2 connected communities, 3 all communities, 4 sharing group
        (see O(sharing_group)), 5 inherit from the feed (MISP-format feeds).
    type: int
    choices: [0, 1, 2, 3, 4, 5]
  sharing_group:
    description:
      - Name or UUID of the sharing group, with O(distribution=4).
    type: str
  rules:
    description:
      - Pull rules (filters) as a structure with the keys C(tags) and C(orgs) (each with C(OR)
        and C(NOT) lists) and C(url_params), see the examples.
      - JSON-encoded as MISP stores it; compared semantically.
    type: dict
  settings:
    description:
      - Format settings, for example C(csv.value) (columns), C(csv.delimiter) and C(common.excluderegex).
      - When not given, the current settings are sent back unchanged on every edit, because
        older MISP versions reset them to empty when an edit omits them.
    type: dict
  fixed_event:
    description: Freetext/CSV feeds put everything into one event.
    type: bool
  delta_merge:
    description: With O(fixed_event), remove attributes that disappeared from the feed.
    type: bool
  publish:
    description: Publish events created from the feed.
    type: bool
  override_ids:
    description: Set the IDS flag of all created attributes to false.
    type: bool
  lookup_visible:
    description: Show feed lookups (correlations) to all users.
    type: bool
  fetch_on_enable:
    description:
      - When a feed goes from disabled to enabled, start a first fetch
        (C(GET /feeds/fetchFromFeed/<id>); queued when background workers are used).
      - A first fetch that MISP refuses or fails (an HTTP error, e.g. 500 when background jobs are
        off and the legacy CakeResque queue is missing) is reported as a warning and in RV(fetched);
        the feed itself is configured, and the scheduled fetches will try again.
    type: bool
    default: false
extends_documentation_fragment:
  - mispops.misp.misp
  - mispops.misp.misp.writes
attributes:
  check_mode:
    support: full
    description: Nothing is written; feeds that would be created or changed are reported.
  diff_mode:
    support: full
    description: Only changed keys are shown (per feed name with O(defaults)).
  idempotent:
    description: A second run with the same options reports no change.
    support: full
    details:
      - With O(load_defaults) alone and no O(defaults_file), the module reloads the list each run
        but only reports a change when feeds were added.
notes:
  - Needs a site admin key (all C(feeds/*) write actions are site-admin only).
  - Reads current state with one C(GET /feeds/index) call per run, whatever the number of feeds
    (plus one C(GET /sharing_groups/index/limit:9999) when a O(sharing_group) is given, and one
    more C(GET /feeds/index) after loading the default list).
  - The feeds' request C(headers) (which may hold credentials) are never returned.
seealso:
  - module: mispops.misp.misp_sharing_group
"""

EXAMPLES = r"""
- name: Enable and cache a few of MISP's default feeds
  mispops.misp.misp_feed:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    defaults:
      - CIRCL OSINT Feed
      - The Botvrij.eu Data
      - https://urlhaus.abuse.ch/downloads/text_online/
    enabled: true
    caching_enabled: true
    distribution: 0
    fetch_on_enable: true

- name: Private feed of the community
  mispops.misp.misp_feed:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    url: https://feeds.example.org/misp/
    name: Community feed
    provider: FinSec CERT
    source_format: misp
    enabled: true
    distribution: 4
    sharing_group: FinSec community
    rules:
      tags:
        NOT: ["tlp:red"]

- name: All custom feeds in one task (one list call when nothing changes)
  mispops.misp.misp_feed:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    feeds:
      - url: https://feeds.example.org/misp/
        name: Community feed
        provider: FinSec CERT
        source_format: misp
        enabled: true
      - url: https://feeds.example.org/ips.txt
        name: Blocked IPs
        provider: FinSec CERT
        source_format: freetext
        caching_enabled: true
      - url: https://old.example.org/feed/
        state: absent
    fetch_on_enable: true

- name: Load MISP's default feed metadata
  mispops.misp.misp_feed:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    load_defaults: true

- name: Delete a feed
  mispops.misp.misp_feed:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    url: https://feeds.example.org/misp/
    state: absent
"""

RETURN = r"""
feed:
  description: The feed after the change (in check mode, as it would be); C(rules) and C(settings) decoded.
  returned: with O(url) and O(state=present)
  type: dict
  sample: {"id": "1", "name": "CIRCL OSINT Feed", "url": "https://www.circl.lu/doc/misp/feed-osint",
           "enabled": true, "caching_enabled": true, "distribution": "0", "source_format": "misp"}
feeds:
  description: The feeds named in O(defaults), after the change.
  returned: with O(defaults)
  type: list
  elements: dict
results:
  description:
    - One result per element of O(feeds), in list order, each with C(url), C(changed), C(diff) and
      C(feed) (when present).
  returned: with O(feeds)
  type: list
  elements: dict
  sample: [{"url": "https://feeds.example.org/misp/", "changed": false, "diff": {"before": {}, "after": {}},
            "feed": {"id": "40", "name": "Community feed", "enabled": true}}]
diff:
  description:
    - Changed keys before and after.
    - With O(feeds) only the changed feeds, keyed by URL; with O(defaults) keyed by feed name.
  returned: always
  type: dict
  sample: {"before": {"https://feeds.example.org/misp/": {"enabled": false}},
           "after": {"https://feeds.example.org/misp/": {"enabled": true}}}
api_calls:
  description: Number of HTTP requests made to MISP.
  returned: always
  type: int
  sample: 1
added:
  description: Names of the feeds that loading the default list added.
  returned: with only O(load_defaults=true), outside check mode
  type: list
  elements: str
fetched:
  description: MISP's answers to the first fetch of feeds that were enabled, by feed name.
  returned: when O(fetch_on_enable=true) and a feed was enabled
  type: dict
  sample: {"CIRCL OSINT Feed": "Pull queued for background execution."}
loaded_defaults:
  description: Whether the default feed metadata was loaded (in check mode, would be).
  returned: always
  type: bool
"""

import json

from ansible_collections.mispops.misp.plugins.module_utils.misp_client import MispApiError
from ansible_collections.mispops.misp.plugins.module_utils.misp_module import (
    MispManager,
    changed_keys,
    find_one,
    list_argument_spec,
    run_module,
    to_bool,
    unwrap,
    unwrap_list,
)
from ansible_collections.mispops.misp.plugins.module_utils.misp_sync import same_url

SIMPLE = (
    "name",
    "provider",
    "source_format",
    "input_source",
    "enabled",
    "caching_enabled",
    "distribution",
    "fixed_event",
    "delta_merge",
    "publish",
    "override_ids",
    "lookup_visible",
)
COMMON = ("enabled", "caching_enabled", "distribution")
# Feed fields never returned: request headers of authenticated feeds carry their keys.
HIDDEN = ("headers",)
# The REST index of sharing groups is paginated (60) without a limit.
SHARING_GROUPS_PATH = "/sharing_groups/index/limit:9999"

# The options of one feed: top-level options (single mode) and elements of feeds.
# With defaults, enabled, caching_enabled, distribution and sharing_group apply to the named default feeds.
ITEM_SPEC = dict(
    url=dict(type="str", required=True),  # required in feeds elements only (list_argument_spec)
    state=dict(type="str", choices=["present", "absent"], default="present"),
    name=dict(type="str"),
    provider=dict(type="str"),
    source_format=dict(type="str", choices=["misp", "freetext", "csv"]),
    input_source=dict(type="str", choices=["network", "local"]),
    enabled=dict(type="bool"),
    caching_enabled=dict(type="bool"),
    distribution=dict(type="int", choices=[0, 1, 2, 3, 4, 5]),
    sharing_group=dict(type="str"),
    rules=dict(type="dict"),
    settings=dict(type="dict"),
    fixed_event=dict(type="bool"),
    delta_merge=dict(type="bool"),
    publish=dict(type="bool"),
    override_ids=dict(type="bool"),
    lookup_visible=dict(type="bool"),
)
ARGUMENT_SPEC = list_argument_spec(
    "feeds",
    ITEM_SPEC,
    dict(
        defaults=dict(type="list", elements="str"),
        load_defaults=dict(type="bool", default=False),
        defaults_file=dict(type="path"),
        fetch_on_enable=dict(type="bool", default=False),
    ),
)


def decode_json(value):
    """MISP keeps rules/settings as JSON text ("" or "[]" when empty)."""
    if isinstance(value, (dict, list)):
        data = value
    elif isinstance(value, str) and value.strip():
        try:
            data = json.loads(value)
        except ValueError:
            return value
    else:
        data = {}
    return data if data != [] else {}


def public_feed(feed):
    out = {k: v for k, v in (feed or {}).items() if k not in HIDDEN}
    for key in ("rules", "settings"):
        if key in out:
            out[key] = decode_json(out[key])
    return out


class FeedManager(MispManager):
    list_option = "feeds"
    item_spec = ITEM_SPEC
    identity_keys = ("url",)

    def run(self):
        p = self.params
        if p["url"] and p["defaults"] is not None:
            self.fail("url and defaults are mutually exclusive.")
        if p["feeds"] is not None and p["defaults"] is not None:
            self.fail("feeds and defaults are mutually exclusive.")
        if p["state"] == "absent" and not p["url"] and p["feeds"] is None:
            self.fail("state=absent needs url.")
        if not p["url"] and p["defaults"] is None and p["feeds"] is None and not p["load_defaults"]:
            self.fail("One of url, feeds, defaults or load_defaults=true is required.")
        self.run_result = {"loaded_defaults": False}
        if p["url"] or p["feeds"] is not None:
            return self.run_elements()  # one feed = a list of one
        self.result = {"changed": False}
        if p["defaults"] is not None:
            self.defaults(self.feeds())
        else:
            self.load_only(self.feeds())
        return {**self.result, **self.run_result}

    def check_item(self, item):
        if not item["url"]:
            self.fail("url is required")
        if item["sharing_group"] is not None and item["distribution"] not in (None, 4):
            self.fail("sharing_group needs distribution=4.")

    def process(self):
        self.result = {"changed": False}
        self.single(self.feeds())
        return self.result

    def identity(self, item):
        return [("url", str(item["url"]).strip().rstrip("/").lower())] if item.get("url") else []

    # -- reading -------------------------------------------------------------------------
    def feeds(self):
        """All feeds, read once per run (and again only after loading the default list)."""
        if not hasattr(self, "_feeds"):
            self._feeds = unwrap_list(self.client.get("/feeds/index"), "Feed")
        return self._feeds

    def sharing_group_id(self):
        ref = self.params["sharing_group"]
        if ref is None:
            return None
        if not hasattr(self, "_sharing_groups"):
            resp = self.client.get(SHARING_GROUPS_PATH)
            items = resp.get("response", []) if isinstance(resp, dict) else resp or []
            self._sharing_groups = [unwrap(i, "SharingGroup") for i in items if isinstance(i, dict)]
        sg = find_one(self._sharing_groups, ref, keys=("uuid", "name", "id"))
        if sg is None:
            self.fail(f"Sharing group '{ref}' not found (active sharing groups only).")
        return str(sg["id"])

    def desired(self, keys):
        p = self.params
        want = {k: p[k] for k in keys}
        if p["sharing_group"] is not None:
            if p["distribution"] not in (None, 4):
                self.fail("sharing_group needs distribution=4.")
            want["distribution"] = 4
            want["sharing_group_id"] = self._sg_id
        return want

    def changes(self, current, want):
        p = self.params
        changes = changed_keys(current, want)
        for key in ("rules", "settings"):
            if key in want and p[key] is not None and decode_json(current.get(key)) != p[key]:
                changes[key] = p[key]
        return changes

    # -- writing -------------------------------------------------------------------------
    def body(self, current, changes):
        body = {k: v for k, v in changes.items()}
        if "rules" in body:
            body["rules"] = json.dumps(body["rules"])
        # Older MISP versions reset settings to "[]" on an edit without them: always send them.
        if "settings" not in body:
            body["settings"] = decode_json((current or {}).get("settings"))
        if "source_format" in body and current and current.get("event_id"):
            # Changing the format of a fixed-event feed would otherwise reset its event id.
            body["target_event"] = current.get("event_id")
        return {"Feed": body}

    def edit(self, current, changes):
        return unwrap(self.client.post(f"/feeds/edit/{current['id']}", self.body(current, changes)), "Feed")

    def maybe_fetch(self, before, after):
        if not self.params["fetch_on_enable"] or self.check_mode:
            return
        if to_bool(after.get("enabled")) and not to_bool((before or {}).get("enabled")):
            try:
                answer = self.client.get(f"/feeds/fetchFromFeed/{after['id']}")
            except MispApiError as e:
                # The feed is configured; failing here would leave the remaining feeds undone.
                msg = f"first fetch failed: {e}"
                self.module.warn(f"Feed {after.get('name') or after['id']}: {msg}")
            else:
                msg = answer.get("result", answer) if isinstance(answer, dict) else answer
            self.run_result.setdefault("fetched", {})[after.get("name") or after["id"]] = msg

    def load(self):
        """Load MISP's default feed list (once per run); the fresh feed list, None in check mode."""
        if self.run_result["loaded_defaults"]:
            return None if self.check_mode else self.feeds()
        self.run_result["loaded_defaults"] = True
        if self.check_mode:
            return None
        self.client.post("/feeds/loadDefaultFeeds")
        self.__dict__.pop("_feeds", None)
        return self.feeds()

    # -- modes ---------------------------------------------------------------------------
    def single(self, feeds):
        p = self.params
        current = next((f for f in feeds if same_url(f.get("url"), p["url"]) or f.get("url") == p["url"]), None)
        if p["load_defaults"] and current is None:
            feeds = self.load()
            if feeds is not None:
                current = next((f for f in feeds if same_url(f.get("url"), p["url"])), None)
        if p["state"] == "absent":
            if current is None:
                self.result["diff"] = {"before": {}, "after": {}}
                return
            if not self.check_mode:
                self.client.post(f"/feeds/delete/{current['id']}")
            self.result.update(changed=True, diff={"before": public_feed(current), "after": {}})
            return
        self._sg_id = self.sharing_group_id()
        want = self.desired(SIMPLE + ("rules", "settings"))
        if current is None:
            self.create(want)
            return
        changes = self.changes(current, {k: v for k, v in want.items() if k not in ("rules", "settings")})
        changes.update(self.changes(current, {k: want[k] for k in ("rules", "settings")}))
        if not changes:
            self.result.update(feed=public_feed(current), diff={"before": {}, "after": {}})
            return
        before = public_feed({k: current.get(k) for k in changes})
        self.result.update(changed=True, diff={"before": before, "after": public_feed(changes)})
        if self.check_mode:
            self.result["feed"] = public_feed({**current, **changes})
            return
        after = self.edit(current, changes)
        self.result["feed"] = public_feed(after)
        self.maybe_fetch(current, after)

    def create(self, want):
        p = self.params
        missing = [k for k in ("name", "provider") if not p[k]]
        if missing:
            self.fail(f"Feed {p['url']} not found; to create it give: {', '.join(missing)}.")
        fields = {k: v for k, v in want.items() if v is not None}
        fields["url"] = p["url"]
        body = dict(fields)
        if "rules" in body:
            body["rules"] = json.dumps(body["rules"])
        self.result.update(changed=True, diff={"before": {}, "after": public_feed(fields)})
        if self.check_mode:
            self.result["feed"] = public_feed(fields)
            return
        created = unwrap(self.client.post("/feeds/add", {"Feed": body}), "Feed")
        self.result["feed"] = public_feed(created)
        self.maybe_fetch({}, created)

    def pick(self, feeds, ref):
        if ref.startswith(("http://", "https://", "/")):
            matches = [f for f in feeds if same_url(f.get("url"), ref)]
        else:
            matches = [f for f in feeds if str(f.get("name", "")).lower() == ref.lower()]
        matches.sort(key=lambda f: not to_bool(f.get("default")))  # MISP's own default entry first
        return matches[0] if matches else None

    def defaults(self, feeds):
        p = self.params
        refs = p["defaults"]
        found = {ref: self.pick(feeds, ref) for ref in refs}
        if any(v is None for v in found.values()):
            loaded = self.load()
            if loaded is not None:
                found = {ref: self.pick(loaded, ref) for ref in refs}
        missing = [ref for ref, feed in found.items() if feed is None]
        if missing and not self.check_mode:
            self.fail(f"Not among MISP's feeds, even after loading the default list: {', '.join(missing)}")
        if missing:
            self.module.warn(f"Not found yet (would be after loading the default list?): {', '.join(missing)}")
        self._sg_id = self.sharing_group_id()
        want = self.desired(COMMON)
        before, after, out = {}, {}, []
        for ref in refs:
            current = found[ref]
            if current is None:
                continue
            label = current.get("name") or ref
            changes = changed_keys(current, want)
            if not changes:
                out.append(public_feed(current))
                continue
            before[label] = {k: current.get(k) for k in changes}
            after[label] = dict(changes)
            self.result["changed"] = True
            if self.check_mode:
                out.append(public_feed({**current, **changes}))
                continue
            new = self.edit(current, changes)
            out.append(public_feed(new))
            self.maybe_fetch(current, new)
        self.result.update(feeds=out, diff={"before": before, "after": after})

    def load_only(self, feeds):
        urls = {f.get("url") for f in feeds}
        known = self.default_feed_metadata()
        if known is not None:
            missing = [d for d in known if not any(same_url(d["url"], url) for url in urls)]
            if not missing:
                self.result["diff"] = {"before": {}, "after": {}}
                return
            if self.check_mode:
                added = [d["name"] for d in missing]
                self.run_result["loaded_defaults"] = True
                self.result.update(changed=True, added=added, diff={"before": {}, "after": {"added": added}})
                return
        elif self.check_mode:
            # Whether MISP would add feeds is only known by loading them.
            self.run_result["loaded_defaults"] = True
            self.result["diff"] = {"before": {}, "after": {}}
            self.module.warn("Check mode: cannot tell whether loading the default feeds would add any.")
            return
        loaded = self.load()
        added = [f.get("name") for f in loaded if f.get("url") not in urls]
        self.result.update(
            changed=bool(added), added=added, diff={"before": {}, "after": {"added": added} if added else {}}
        )

    def default_feed_metadata(self):
        """[{name, url}] of MISP's defaults.json (defaults_file), or None when it cannot be read."""
        path = self.params["defaults_file"]
        if not path:
            return None
        try:
            with open(path, encoding="utf-8") as handle:
                entries = json.load(handle)
            return [
                {"name": e["Feed"].get("name") or e["Feed"]["url"], "url": e["Feed"]["url"]}
                for e in entries
                if isinstance(e, dict) and isinstance(e.get("Feed"), dict) and e["Feed"].get("url")
            ]
        except (OSError, ValueError, TypeError) as e:
            self.module.warn(f"Cannot read the default feed metadata {path} ({e}); loading the list.")
            return None


def main():
    exclusive = [("url", "defaults"), ("feeds", "defaults")] + [("feeds", name) for name in ITEM_SPEC]
    run_module(FeedManager, ARGUMENT_SPEC, mutually_exclusive=exclusive)


if __name__ == "__main__":
    main()
