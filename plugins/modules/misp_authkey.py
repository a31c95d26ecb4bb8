#!/usr/bin/python
# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: misp_authkey
short_description: Create a labelled MISP API key for a user and hand it back once
version_added: 0.1.0
description:
  - Ensures that a user has an advanced API key whose C(comment) is O(comment). The comment is
    the key's identity, so re-runs find the existing key and change nothing.
  - MISP stores keys hashed and chooses them itself, so the clear key exists only in the
    answer to its creation. The module returns it in RV(authkey) B(only on the run that
    created it); store it then (for example in a vault file), it cannot be read again.
  - Reads all keys with one C(GET /auth_keys/index) (site admin) and matches user e-mail and
    comment client-side. Creates with C(POST /auth_keys/add/<user id>), updates O(allowed_ips),
    O(expiration) and O(read_only) of the found key with C(POST /auth_keys/edit/<id>), deletes
    with C(DELETE /auth_keys/delete/<id>).
  - An expired key with the comment is replaced by a new one (the expired one is deleted) unless
    O(renew_expired=false).
author:
  - mispops contributors (!UNKNOWN)
extends_documentation_fragment:
  - mispops.misp.misp
  - mispops.misp.misp.writes
attributes:
  check_mode:
    description: Reports whether a key would be created or changed; creates nothing.
    support: full
  diff_mode:
    description: Shows changed key properties; never the key.
    support: full
  idempotent:
    description: A second run with the same options reports no change and returns no key.
    support: full
options:
  user:
    description: E-mail address or numeric id of the user who owns the key.
    type: str
    required: true
  comment:
    description:
      - Label of the key, unique per user; for example C(managed-by-ansible:sync-to-misp-b).
    type: str
    required: true
  allowed_ips:
    description:
      - IP addresses or CIDR ranges the key may be used from. An empty list removes the
        restriction. Mandatory when MISP has C(Security.mandate_ip_allowlist_advanced_authkeys).
    type: list
    elements: str
  expiration:
    description:
      - Expiry date C(YYYY-MM-DD), or V(0)/V(never) for no expiry. MISP caps it at
        C(Security.advanced_authkeys_validity) days and uses that cap when it is not given.
    type: str
  read_only:
    description: Key can only read (it cannot change user settings, nor push as a sync key).
    type: bool
  renew_expired:
    description: Replace an expired key with the comment by a new one.
    type: bool
    default: true
  state:
    description: V(absent) deletes every key of the user with the comment.
    type: str
    choices: [present, absent]
    default: present
notes:
  - Use C(no_log) on the task; RV(authkey) is a live credential.
  - Needs C(Security.advanced_authkeys) (the default in MISP 2.5).
  - To give a user a key you chose yourself, MISP only offers C(cake user change_authkey),
    which expires all other keys of that user.
"""

EXAMPLES = r"""
- name: Create the sync key for the peer (returned only when created)
  mispops.misp.misp_authkey:
    misp_url: https://misp-b.example.org
    misp_api_key: "{{ vault_misp_b_admin_key }}"
    user: sync-misp-a@cert.example
    comment: managed-by-ansible:sync-from-misp-a
    allowed_ips: ["192.0.2.10/32"]
  register: sync_key
  no_log: true

- name: Keep the new key (only when one was created)
  ansible.builtin.copy:
    content: "{{ sync_key.authkey }}"
    dest: /root/misp-b-sync.key
    owner: root
    group: root
    mode: "0600"
  when: sync_key.authkey is defined
  no_log: true
"""

RETURN = r"""
authkey:
  description: The clear API key. Only on the run that created it (not in check mode).
  returned: when a key was created
  type: str
created:
  description: Whether a new key was created (or would be, in check mode).
  returned: always
  type: bool
key:
  description: The key's metadata (never the key or its hash).
  returned: when state is present
  type: dict
  sample: {"id": "12", "user_id": "5", "comment": "managed-by-ansible:sync", "authkey_start": "abcd",
           "authkey_end": "wxyz", "expiration": 0, "allowed_ips": ["192.0.2.10/32"], "read_only": false}
diff:
  description: Changed key properties before and after.
  returned: always
  type: dict
"""

import calendar
import time

from ansible_collections.mispops.misp.plugins.module_utils.misp_module import (
    MispManager,
    run_module,
    same,
    unwrap,
)

ARGUMENT_SPEC = dict(
    user=dict(type="str", required=True),
    comment=dict(type="str", required=True),
    allowed_ips=dict(type="list", elements="str"),
    expiration=dict(type="str"),
    read_only=dict(type="bool"),
    renew_expired=dict(type="bool", default=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)
META = ("id", "uuid", "user_id", "comment", "authkey_start", "authkey_end", "expiration", "allowed_ips", "read_only")
# strtotime("YYYY-MM-DD") runs in MISP's PHP time zone; any zone is within 14 h of UTC.
TZ_SLACK = 14 * 3600


def metadata(key):
    return {k: key.get(k) for k in META if k in key}


def expiration_ts(value):
    """'YYYY-MM-DD' -> UTC midnight timestamp; '0'/'never'/'' -> 0."""
    if value is None:
        return None
    text = str(value).strip().lower()
    if text in ("", "0", "never", "none"):
        return 0
    if text.isdigit():
        return int(text)
    try:
        return calendar.timegm(time.strptime(text, "%Y-%m-%d"))
    except ValueError:
        return False


def is_expired(key, now):
    exp = int(key.get("expiration") or 0)
    return exp != 0 and exp <= now


class AuthKeyManager(MispManager):
    def run(self):
        p = self.params
        now = int(time.time())
        keys = self.matching_keys()

        if p["state"] == "absent":
            if keys and not self.check_mode:
                for key in keys:
                    self.client.delete(f"/auth_keys/delete/{key['id']}")
            return dict(
                changed=bool(keys),
                created=False,
                diff={"before": {"keys": [metadata(k) for k in keys]} if keys else {}, "after": {}},
            )

        wanted_exp = expiration_ts(p["expiration"])
        if wanted_exp is False:
            self.fail(f"expiration must be YYYY-MM-DD, 0 or never; got {p['expiration']!r}")

        valid = [k for k in keys if not is_expired(k, now)]
        if valid:
            key = max(valid, key=lambda k: int(k["id"]))
            if len(valid) > 1:
                self.module.warn(
                    f"{len(valid)} keys of {p['user']} have the comment {p['comment']!r}; managing id {key['id']}"
                )
            return self.update(key, wanted_exp)
        if keys and not p["renew_expired"]:
            key = max(keys, key=lambda k: int(k["id"]))
            return dict(changed=False, created=False, diff={"before": {}, "after": {}}, key=metadata(key), expired=True)
        return self.create(keys, wanted_exp)

    def matching_keys(self):
        p = self.params
        user = str(p["user"]).lower()
        found = []
        for entry in self.client.get("/auth_keys/index") or []:
            key = unwrap(entry, "AuthKey")
            owner = entry.get("User") or {}
            if key.get("comment") != p["comment"]:
                continue
            if user in (str(key.get("user_id")), str(owner.get("id")), str(owner.get("email", "")).lower()):
                found.append(key)
        return found

    def user_id(self, keys):
        if keys:
            return keys[0]["user_id"]
        ref = str(self.params["user"])
        if ref.isdigit():
            return ref
        for entry in self.client.get("/admin/users/index") or []:
            user = entry.get("User", {})
            if str(user.get("email", "")).lower() == ref.lower():
                return user["id"]
        self.fail(f"User {ref} not found in MISP")

    def create(self, expired, wanted_exp):
        p = self.params
        body = {"comment": p["comment"]}
        if p["allowed_ips"] is not None:
            body["allowed_ips"] = p["allowed_ips"]
        if wanted_exp is not None:
            body["expiration"] = p["expiration"] if wanted_exp else 0
        if p["read_only"] is not None:
            body["read_only"] = p["read_only"]
        uid = self.user_id(expired)
        result = dict(changed=True, created=True, diff={"before": {}, "after": {"user_id": str(uid), **body}})
        if self.check_mode:
            result["key"] = {"user_id": str(uid), **body}
            return result
        answer = unwrap(self.client.post(f"/auth_keys/add/{uid}", body), "AuthKey")
        for old in expired:
            self.client.delete(f"/auth_keys/delete/{old['id']}")
        result["authkey"] = answer.get("authkey_raw")
        result["key"] = metadata(answer)
        return result

    def update(self, key, wanted_exp):
        p = self.params
        changes = {}
        if p["allowed_ips"] is not None and not same(key.get("allowed_ips") or [], p["allowed_ips"]):
            changes["allowed_ips"] = p["allowed_ips"]
        if p["read_only"] is not None and not same(key.get("read_only"), p["read_only"]):
            changes["read_only"] = p["read_only"]
        if wanted_exp is not None:
            current = int(key.get("expiration") or 0)
            differs = current != 0 if wanted_exp == 0 else (current == 0 or abs(current - wanted_exp) > TZ_SLACK)
            if differs:
                changes["expiration"] = p["expiration"] if wanted_exp else 0
        if not changes:
            return dict(changed=False, created=False, diff={"before": {}, "after": {}}, key=metadata(key))
        after = {**key, **changes}
        if not self.check_mode:
            answer = unwrap(self.client.post(f"/auth_keys/edit/{key['id']}", changes), "AuthKey")
            after = {**key, **(answer or {})} if isinstance(answer, dict) else after
        return dict(
            changed=True,
            created=False,
            diff={"before": {k: key.get(k) for k in changes}, "after": changes},
            key=metadata(after),
        )


def main():
    run_module(AuthKeyManager, ARGUMENT_SPEC)


if __name__ == "__main__":
    main()
