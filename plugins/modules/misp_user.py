#!/usr/bin/python
# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: misp_user
short_description: Manage MISP users and their user settings (publish alert filter, homepage)
version_added: 0.1.0
description:
  - Creates, updates or deletes one MISP user, found by O(email) (case-insensitive), or many
    with O(users) (list mode), in one task.
  - Reads all users with one C(GET /admin/users/index) per run, whatever the number of users;
    organisation and role are compared by name or id against what that list already contains,
    so the no-change path makes no other call, plus one C(GET /user_settings/index) (all user
    settings) when O(user_settings) is given for a user that exists. The organisation and role
    lists (C(GET /organisations/index/scope:all), C(GET /roles/index)) are read at most once,
    only when a user gets a new organisation or role.
  - Writes only the fields that differ (C(POST /admin/users/add), C(POST /admin/users/edit/<id>)
    with just those fields) and user settings via C(POST /user_settings/setSetting/<id>/<name>).
  - Never changes the password of an existing user. O(password) is used only when the user is
    created; without it MISP generates a random one.
author:
  - mispops contributors (!UNKNOWN)
extends_documentation_fragment:
  - mispops.misp.misp
  - mispops.misp.misp.writes
attributes:
  diff_mode:
    description: Shows the changed fields and user settings; the password never appears.
    support: full
options:
  users:
    description:
      - List mode. Each element describes one user with the same keys as the single-user options
        (O(email), O(organisation), O(role), O(disabled), O(autoalert), O(contactalert),
        O(termsaccepted), O(change_pw), O(gpgkey), O(password), O(user_settings), O(state));
        they are applied in list order.
      - Mutually exclusive with those single-user options. A user may be listed only once.
      - Elements are checked first; when one fails, the elements already applied stay applied and
        the failure lists their results.
    type: list
    elements: dict
    suboptions:
      email:
        description: See O(email).
        type: str
        required: true
      organisation:
        description: See O(organisation).
        type: str
        aliases: [org]
      role:
        description: See O(role).
        type: str
      disabled:
        description: See O(disabled).
        type: bool
      autoalert:
        description: See O(autoalert).
        type: bool
      contactalert:
        description: See O(contactalert).
        type: bool
      termsaccepted:
        description: See O(termsaccepted).
        type: bool
      change_pw:
        description: See O(change_pw).
        type: bool
      gpgkey:
        description: See O(gpgkey).
        type: str
      password:
        description: See O(password). Never returned or logged.
        type: str
      user_settings:
        description: See O(user_settings).
        type: dict
      state:
        description: See O(state).
        type: str
        choices: [present, absent]
        default: present
  email:
    description:
      - E-mail address (login name) of the user.
      - Required unless O(users) is given.
    type: str
  organisation:
    description:
      - Organisation of the user, by name, UUID or id. Required to create a user in another
        organisation than the one of the API key's user (MISP's default).
    type: str
    aliases: [org]
  role:
    description:
      - Role by name (for example V(User), V(Org Admin), V(Sync user), V(Read Only)) or id.
      - Without it MISP gives new users its default role.
    type: str
  disabled:
    description: Block the user from logging in and from using API keys.
    type: bool
  autoalert:
    description:
      - Receive e-mail alerts when events are published (UI label "Event published
        notification"). Which events is narrowed with the C(publish_alert_filter) user setting.
      - MISP's REST default for new users is C(MISP.default_publish_alert) (usually true).
    type: bool
  contactalert:
    description: Receive the "contact reporter" e-mails about events of the user's organisation.
    type: bool
  termsaccepted:
    description: Mark the terms of use as accepted (useful for service accounts).
    type: bool
  change_pw:
    description:
      - Ask the user to change the password at the next interactive login. MISP's REST default
        for new users is V(true); set V(false) for service accounts.
      - This is a flag only; the module never sets the password of an existing user.
    type: bool
  gpgkey:
    description: ASCII-armoured PGP public key used to encrypt e-mails to the user.
    type: str
  password:
    description:
      - Initial password, used only when the user is created (take it from the vault).
      - MISP's password policy applies (C(Security.password_policy_length), default 12).
    type: str
  user_settings:
    description:
      - User settings to enforce, as a mapping of setting name to value. Only the named
        settings are touched; a V(null) value removes that setting.
      - "C(publish_alert_filter) takes the filter tree, for example
        C({\"OR\": {\"EventTag.name\": [\"%privacy-threat:%\"]}}) to be alerted only for events
        with tags of the privacy-threat taxonomy."
      - "C(homepage) takes C({\"path\": \"/events/index\"}) or just the path."
    type: dict
  state:
    description: Whether the user should exist.
    type: str
    choices: [present, absent]
    default: present
notes:
  - With advanced auth keys MISP also creates an API key for every new user and returns it
    once; this module does not return it. Manage keys with M(mispops.misp.misp_authkey).
  - User settings of a user created in check mode are all reported as changed.
  - Use C(no_log) on the task when passwords are given; the module itself never returns them.
"""

EXAMPLES = r"""
- name: Analyst alerted only for privacy-threat events, landing on the event index
  mispops.misp.misp_user:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    email: analyst@bank-a.example
    organisation: Bank A
    role: User
    autoalert: true
    user_settings:
      publish_alert_filter:
        OR:
          EventTag.name: ["%privacy-threat:%"]
      homepage: /events/index

- name: Service account (no alerts, no password change prompt)
  mispops.misp.misp_user:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    email: svc-ingest@cert.example
    organisation: CERT-EX
    role: Read Only
    autoalert: false
    contactalert: false
    change_pw: false
    termsaccepted: true
    password: "{{ vault_svc_ingest_password }}"
  no_log: true

- name: All users in one task (one list call when nothing changes)
  mispops.misp.misp_user:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    users:
      - email: analyst@bank-a.example
        organisation: Bank A
        role: User
        user_settings:
          homepage: /events/index
      - email: svc-ingest@cert.example
        organisation: CERT-EX
        role: Read Only
        change_pw: false
        password: "{{ vault_svc_ingest_password }}"
      - email: leaver@bank-a.example
        state: absent
  no_log: true

- name: Remove a user
  mispops.misp.misp_user:
    misp_url: https://misp.example.org
    misp_api_key: "{{ vault_misp_admin_key }}"
    email: leaver@bank-a.example
    state: absent
"""

RETURN = r"""
user:
  description: The user after the run (no password, no API key).
  returned: when state is present, single-user mode
  type: dict
  sample: {"id": "7", "email": "analyst@bank-a.example", "org_id": "2", "role_id": "3", "autoalert": true}
user_settings:
  description: The enforced user settings after the run.
  returned: when state is present and user_settings is given, single-user mode
  type: dict
  sample: {"homepage": {"path": "/events/index"}}
results:
  description:
    - One result per element of O(users), in list order, each with C(email), C(changed), C(diff),
      and C(user) and C(user_settings) as in single-user mode. Never a password or API key.
  returned: list mode
  type: list
  elements: dict
  sample: [{"email": "analyst@bank-a.example", "changed": false, "diff": {"before": {}, "after": {}},
            "user": {"id": "7", "email": "analyst@bank-a.example", "org_id": "2", "role_id": "3"}}]
diff:
  description:
    - Changed fields (and C(user_settings)) before and after.
    - In list mode only the changed users, keyed by e-mail, each with only its changed fields.
  returned: always
  type: dict
  sample: {"before": {"analyst@bank-a.example": {"disabled": false}},
           "after": {"analyst@bank-a.example": {"disabled": true}}}
api_calls:
  description: Number of HTTP requests made to MISP.
  returned: always
  type: int
  sample: 1
"""

import json

from ansible_collections.mispops.misp.plugins.module_utils.misp_module import (
    MispManager,
    diff_of,
    list_argument_spec,
    list_mode_rules,
    run_module,
    same,
    unwrap,
    unwrap_list,
)

FIELDS = ("email", "disabled", "autoalert", "contactalert", "termsaccepted", "change_pw", "gpgkey")
# Never returned or shown: MISP masks the password but returns a fresh key on creation.
HIDDEN = ("password", "confirm_password", "authkey", "totp", "hotp_counter")
USERS_PATH = "/admin/users/index"
# All user settings the key may see, in one call (REST index without page/limit is not paginated).
SETTINGS_PATH = "/user_settings/index"

# The options of one user: top-level options (single mode) and elements of users.
ITEM_SPEC = dict(
    email=dict(type="str", required=True),
    organisation=dict(type="str", aliases=["org"]),
    role=dict(type="str"),
    disabled=dict(type="bool"),
    autoalert=dict(type="bool"),
    contactalert=dict(type="bool"),
    termsaccepted=dict(type="bool"),
    change_pw=dict(type="bool"),
    gpgkey=dict(type="str", no_log=False),  # a public key
    password=dict(type="str", no_log=True),
    user_settings=dict(type="dict"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)
ARGUMENT_SPEC = list_argument_spec("users", ITEM_SPEC)


def public(user):
    return {k: v for k, v in (user or {}).items() if k not in HIDDEN}


def refers_to(ref, obj):
    """True if ``ref`` (name or id) names ``obj`` ({"id", "name"}) without another lookup."""
    if not obj:
        return False
    ref = str(ref)
    return ref == str(obj.get("id")) or ref.lower() == str(obj.get("name", "")).lower()


def setting_value(name, value):
    if isinstance(value, str):
        if name == "homepage" and not value.lstrip().startswith("{"):
            return {"path": value}
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class UserManager(MispManager):
    list_option = "users"
    item_spec = ITEM_SPEC
    identity_keys = ("email",)

    def check_item(self, item):
        if not item["email"]:
            self.fail("email is required")

    def process(self):
        p = self.params
        entry = self.find()
        current = public(entry["User"]) if entry else None

        if p["state"] == "absent":
            changed, diff, _gone = self.ensure(
                current, {}, state="absent", delete=lambda cur: self.client.delete(f"/admin/users/delete/{cur['id']}")
            )
            return dict(changed=changed, diff=diff)

        desired = {f: p[f] for f in FIELDS}
        if current and str(current.get("email", "")).lower() == p["email"].lower():
            desired["email"] = None  # e-mail addresses compare case-insensitively
        if p["organisation"] is not None and not refers_to(p["organisation"], entry and entry.get("Organisation")):
            desired["org_id"] = str(self.lookup.organisation(p["organisation"])["id"])
        if p["role"] is not None and not refers_to(p["role"], entry and entry.get("Role")):
            desired["role_id"] = str(self.lookup.role(p["role"])["id"])

        changed, diff, user = self.ensure(
            current,
            desired,
            create=self.create,
            update=lambda cur, changes: public(
                unwrap(self.client.post(f"/admin/users/edit/{cur['id']}", self.typed(changes)), "User")
            ),
        )
        result = dict(changed=changed, diff=diff, user=user)
        if p["user_settings"] is not None:
            # A user created now has no settings yet: nothing to read.
            user_id = current.get("id") if current else None
            s_changed, s_diff, settings = self.apply_settings(user.get("id") if user else None, user_id)
            result["user_settings"] = settings
            if s_changed:
                result["changed"] = True
                result["diff"]["before"]["user_settings"] = s_diff["before"]
                result["diff"]["after"]["user_settings"] = s_diff["after"]
        return result

    def find(self):
        """The user's entry of the admin index, read once per run."""
        if not hasattr(self, "_users"):
            self._users = {}
            for entry in self.client.get(USERS_PATH) or []:
                if isinstance(entry, dict) and isinstance(entry.get("User"), dict):
                    self._users.setdefault(str(entry["User"].get("email", "")).lower(), entry)
        return self._users.get(self.params["email"].lower())

    def settings_of(self, user_id):
        """{setting name: row} of a user, from one read of all user settings per run."""
        if not hasattr(self, "_settings"):
            self._settings = {}
            for row in unwrap_list(self.client.get(SETTINGS_PATH), "UserSetting"):
                self._settings.setdefault(str(row.get("user_id")), {})[row.get("setting")] = row
        return self._settings.get(str(user_id), {})

    @staticmethod
    def typed(fields):
        # ids as numbers, the rest as given (bools stay JSON booleans)
        return {k: int(v) if k in ("org_id", "role_id") else v for k, v in fields.items()}

    def create(self, fields):
        body = self.typed(fields)
        if self.params["password"]:
            body["password"] = self.params["password"]
        return public(unwrap(self.client.post("/admin/users/add", body), "User"))

    def apply_settings(self, user_id, existing_id):
        """``user_id``: the user to write to; ``existing_id``: id of a user that existed before the run."""
        desired = {name: setting_value(name, v) for name, v in self.params["user_settings"].items()}
        current = self.settings_of(existing_id) if existing_id is not None else {}

        changes = {}
        for name, value in desired.items():
            row = current.get(name)
            if value is None:
                if row is not None:
                    changes[name] = None
            elif row is None or not same(row.get("value"), value):
                changes[name] = value

        if changes and not self.check_mode:
            for name, value in changes.items():
                if value is None:
                    self.client.post(f"/user_settings/delete/{current[name]['id']}")
                else:
                    self.client.post(f"/user_settings/setSetting/{user_id}/{name}", {"value": value})

        before = {n: r.get("value") for n, r in current.items() if n in changes}
        after = {**{n: r.get("value") for n, r in current.items() if n in desired}, **changes}
        after = {n: v for n, v in after.items() if v is not None}
        return bool(changes), diff_of(before, {n: changes[n] for n in changes}, changes), after


def main():
    run_module(UserManager, ARGUMENT_SPEC, **list_mode_rules("users", ITEM_SPEC))


if __name__ == "__main__":
    main()
