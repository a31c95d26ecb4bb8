# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""MISP-to-MISP sync helpers shared by misp_server, the sync role and the doctor.

Everything here is pure (no HTTP): the connection-test classifier turns the JSON answer of
``POST /servers/testConnection/<id>`` into one of the causes of the project's
troubleshooting table (seed: "Possible reasons why a synchronization between MISP
instances fail"), with the fix text from that table.

What MISP answers (ServersController::testConnection, Server::runConnectionTest, MISP 2.5):
always HTTP 200 JSON (404 only for an unknown server id) with ``status``:

* 1 OK (``version``, ``local_version``, ``mismatch``, ``newer``, ``post``, ``uuid``...);
* 2 remote unreachable (DNS, refused, timeout, TLS verification failure);
* 3 unexpected answer (non-2xx other than 403/405, non-JSON, bad version string; also a
  remote that is not live and redirects to its login page);
* 4 authentication failed (the remote answered 403: wrong/expired/IP-restricted key,
  disabled user, role without perm_auth);
* 5 / 6 password change required / terms not accepted (old remotes only);
* 7 remote user is not a sync user (neither perm_sync nor perm_sighting);
* 8 remote user may only push sightings (perm_sighting without perm_sync).

``post`` (POST round-trip test): 1 OK, 8 could not POST, 9 body mangled, 10 headers
stripped (a proxy dropping Accept/Content-Type).
"""

from __future__ import annotations

import copy
import json
import re

OK = "ok"
AUTHENTICATION_FAILED = "authentication_failed"
NOT_REACHABLE = "not_reachable"
NOT_SYNC_USER = "not_sync_user"
OTHER = "other"

RESULTS = (OK, AUTHENTICATION_FAILED, NOT_REACHABLE, NOT_SYNC_USER, OTHER)

# Fix texts: the "Solution" column of the seed's troubleshooting table (training course
# D4.10, "MISP2MISP sync fail"), whitespace normalised.
FIXES = {
    OK: None,
    AUTHENTICATION_FAILED: (
        "The organization with which you are synchronized has changed either the Authkey or the server "
        "certificate file (.pem). Therefore, it is necessary to request new ones and integrate them into "
        "your MISP instance."
    ),
    NOT_REACHABLE: "There might be a network problem, most likely related with the firewall rules / proxies.",
    NOT_SYNC_USER: (
        "The Authkey provided by the counterpart do not belong to a sync user. Request the counterpart to "
        "provide an Authkey belonging to a sync user."
    ),
    OTHER: None,
}

_STATUS_TEXT = {
    1: "OK",
    2: "Server unreachable",
    3: "Unexpected error",
    4: "Authentication failed",
    5: "Password change required",
    6: "Terms not accepted",
    7: "Remote user not a sync user, only pulling events is available.",
    8: "Remote user not a sync user, pushing available for sightings only",
}

_POST_TEXT = {
    8: "Could not POST message to the remote",
    9: "Invalid body: the remote (or a proxy) altered the POSTed message",
    10: "Invalid headers: a proxy between the instances strips the Accept/Content-Type headers",
}


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _result(result, status, message, fix=None, **details):
    out = {
        "result": result,
        "ok": result == OK,
        "status": status,
        "message": message,
        "fix": fix if fix is not None else FIXES.get(result),
    }
    out.update({k: v for k, v in details.items() if v is not None})
    return out


def classify_connection_test(response, http_status=200, error=None):
    """Classify MISP's testConnection answer.

    ``response``: the parsed JSON body (dict) or None; ``http_status``: the HTTP status of
    the answer (404 = unknown server id); ``error``: text of a request error, when the
    call itself failed.
    Returns ``{"result", "ok", "status", "message", "fix", ...details}`` where ``result``
    is one of :data:`RESULTS`.
    """
    if error is not None or (http_status is not None and http_status >= 400):
        text = error or f"HTTP {http_status}"
        if http_status == 404:
            text = f"the server entry does not exist on this MISP ({text})"
        return _result(
            OTHER,
            None,
            f"Connection test could not run: {text}",
            fix="Check that the server entry exists and that the API key used is a site admin key.",
            http_status=http_status,
        )
    if not isinstance(response, dict):
        return _result(
            OTHER,
            None,
            f"Unexpected answer to testConnection: {str(response)[:300]}",
            fix="Check the MISP error log (app/tmp/logs/error.log) of this instance.",
        )

    status = _int(response.get("status"))
    cert = response.get("client_certificate") or None
    cert_error = cert.get("error") if isinstance(cert, dict) else None
    details = {"client_certificate_error": cert_error}

    if status == 1:
        return _classify_ok(response, details)
    if status == 2:
        msg = _STATUS_TEXT[2] + ": DNS, connection refused, timeout or TLS verification failure."
        fix = FIXES[NOT_REACHABLE] + (
            " If the remote uses a private CA or a self-signed certificate, set cert_file (its CA in PEM) "
            "or self_signed on the server entry; check the client certificate if one is used."
        )
        return _result(NOT_REACHABLE, 2, msg, fix=fix, **details)
    if status == 4:
        msg = (
            _STATUS_TEXT[4] + ": the remote answered HTTP 403 (wrong, expired or IP-restricted key, or disabled user)."
        )
        return _result(AUTHENTICATION_FAILED, 4, msg, **details)
    if status in (7, 8):
        info = response.get("info") if isinstance(response.get("info"), dict) else {}
        return _result(
            NOT_SYNC_USER,
            status,
            _STATUS_TEXT[status],
            remote_version=info.get("version"),
            perm_sync=info.get("perm_sync"),
            perm_sighting=info.get("perm_sighting"),
            **details,
        )
    if status in (5, 6):
        action = "change its password" if status == 5 else "accept the terms of use"
        return _result(
            OTHER,
            status,
            _STATUS_TEXT[status],
            fix=f"Ask the counterpart to log in once as the sync user and {action}, or to upgrade their MISP.",
            **details,
        )
    if status == 3:
        return _result(
            OTHER,
            3,
            _STATUS_TEXT[3] + ": the remote gave a non-JSON or unexpected answer.",
            fix=(
                "Check that the URL points at the MISP base URL, that the remote instance is live "
                "(MISP.live) and not in maintenance, and read the remote's logs; this instance's audit "
                "log holds the answer it received."
            ),
            **details,
        )
    return _result(
        OTHER,
        status,
        f"Unknown connection test status {response.get('status')!r}: {json.dumps(response)[:300]}",
        fix="Check the MISP logs of both instances.",
        **details,
    )


def _classify_ok(response, details):
    mismatch = response.get("mismatch")
    newer = response.get("newer")
    post = response.get("post")
    common = dict(
        remote_version=response.get("version"),
        local_version=response.get("local_version"),
        mismatch=mismatch,
        newer=newer,
        post=post,
        remote_uuid=response.get("uuid"),
        **details,
    )
    # A hotfix difference is fine; "proposal" appears for every 2.x remote with hotfix < 111
    # even at equal versions. Minor/major differences make MISP abort the sync.
    if mismatch in ("major", "minor"):
        side = "the remote" if newer == "local" else "this instance"
        return _result(
            OTHER,
            1,
            f"Versions differ by a {mismatch} version (local {response.get('local_version')}, "
            f"remote {response.get('version')}): MISP aborts sync in this case.",
            fix=f"Upgrade {side} so that both run the same MISP {mismatch} version.",
            **common,
        )
    post_status = _int(post)
    if post_status in _POST_TEXT:
        return _result(
            OTHER,
            1,
            f"Connection works but the POST test failed ({post_status}): {_POST_TEXT[post_status]}.",
            fix=FIXES[NOT_REACHABLE]
            + " Make sure the proxy passes POST bodies and the Accept/Content-Type headers unchanged.",
            **common,
        )
    return _result(OK, 1, "Connection OK", **common)


# --------------------------------------------------------------------------------------
# Sync filter rules
# --------------------------------------------------------------------------------------
DEFAULT_PUSH_RULES = {"tags": {"OR": [], "NOT": []}, "orgs": {"OR": [], "NOT": []}}
DEFAULT_PULL_RULES = {
    "tags": {"OR": [], "NOT": []},
    "orgs": {"OR": [], "NOT": []},
    "type_attributes": {"NOT": []},
    "type_objects": {"NOT": []},
    "url_params": "",
}


def _merge(base, extra):
    out = copy.deepcopy(base)
    for key, value in (extra or {}).items():
        if value is None:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def normalise_rules(rules, kind):
    """Full rules dict for ``kind`` ("push" or "pull"): MISP's default shape with ``rules`` on top.

    ``rules`` may be a dict, a JSON string (as MISP stores it), or None/"" (= defaults).
    ``url_params`` is kept as MISP keeps it: a string (a dict is JSON-encoded).
    """
    base = DEFAULT_PUSH_RULES if kind == "push" else DEFAULT_PULL_RULES
    if isinstance(rules, str):
        rules = json.loads(rules) if rules.strip() else {}
    if not isinstance(rules, dict):
        rules = {}
    merged = _merge(base, rules)
    if isinstance(merged.get("url_params"), dict):
        merged["url_params"] = json.dumps(merged["url_params"], sort_keys=True)
    return merged


def encode_rules(rules, kind):
    """JSON string as MISP expects it in push_rules/pull_rules (objects are rejected)."""
    return json.dumps(normalise_rules(rules, kind), sort_keys=True)


def rules_equal(current, desired, kind):
    """Compare MISP's stored rules (JSON string) with the desired ones, ignoring order of keys."""
    try:
        cur = normalise_rules(current, kind)
    except ValueError:
        return False
    return cur == normalise_rules(desired, kind)


def normalise_url(url):
    """URL as MISP stores it for a server: trailing slashes stripped (Server::beforeSave)."""
    if url is None:
        return None
    return str(url).strip().rstrip("/")


def same_url(a, b):
    if a is None or b is None:
        return False
    return normalise_url(a).lower() == normalise_url(b).lower()


# --------------------------------------------------------------------------------------
# Link planning (role misp_sync): inventory links -> what to do on both ends
# --------------------------------------------------------------------------------------
# Server entry options a link may set besides push/pull (passed to misp_server as they are).
LINK_SERVER_OPTIONS = (
    "push_sightings",
    "push_galaxy_clusters",
    "pull_galaxy_clusters",
    "push_analyst_data",
    "pull_analyst_data",
    "caching_enabled",
    "unpublish_event",
    "publish_without_email",
    "remove_missing_tags",
    "skip_proxy",
    "internal",
)
LINK_KEYS = frozenset(
    (
        "name",
        "remote",
        "url",
        "pull",
        "push",
        "pull_rules",
        "push_rules",
        "sharing_groups",
        "remote_org_name",
        "remote_org_uuid",
        "remote_api_key",
        "ca_file",
        "self_signed",
        "update_authkey",
        "sync_user_email",
        "state",
    )
    + LINK_SERVER_OPTIONS
)
SHARING_GROUP_KEYS = frozenset(("uuid", "name", "description", "releasability", "organisations", "all_orgs"))

_UUID_RE = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
_URL_RE = r"^https?://[^/\s]+"


def _match(pattern, value):
    return isinstance(value, str) and re.match(pattern, value) is not None


def slug(text):
    """File-name and label safe form of an inventory hostname or link name."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", str(text)).strip("-.")
    return out or "link"


def _is_url(value):
    return _match(_URL_RE, value)


def plan_links(
    links,
    local,
    peers,
    inventory_hosts=(),
    secrets_dir="/root/.misp/sync",
    user_domain="misp-sync.invalid",
    key_comment_prefix="managed-by-ansible:misp_sync",
):
    """Turn the inventory's ``misp_sync_links`` of one instance (A) into a plan per link.

    ``local``: A's identity ``{"host", "org_name", "org_uuid", "url"}``.
    ``peers``: identity of every inventory MISP host taking part in the play, by inventory
    hostname or as a list (same keys plus ``api_url``, ``api_ca_path``, ``validate_certs``,
    ``secrets_dir``).
    ``inventory_hosts``: every inventory hostname (to tell "not in this play" from "a URL").

    Each planned link has ``errors`` (a list of texts, empty when the link is usable); API keys
    never enter the plan (``index`` points back into ``links``).
    """
    local = local or {}
    if isinstance(peers, (list, tuple)):
        peers = {peer["host"]: peer for peer in peers if isinstance(peer, dict) and peer.get("host")}
    peers = peers or {}
    inventory_hosts = set(inventory_hosts or ()) | set(peers)
    plans = []
    for index, link in enumerate(links or []):
        plans.append(
            _plan_link(index, link, local, peers, inventory_hosts, secrets_dir, user_domain, key_comment_prefix)
        )
    _cross_link_errors(plans)
    return plans


def _plan_link(index, link, local, peers, inventory_hosts, secrets_dir, user_domain, key_comment_prefix):
    errors = []
    if not isinstance(link, dict):
        return {"index": index, "name": f"#{index + 1}", "errors": [f"link #{index + 1} must be a mapping"]}
    name = link.get("name")
    label = name or f"#{index + 1}"
    if not name or not isinstance(name, str):
        errors.append("needs a name (the name of the server entry)")
    unknown = sorted(set(link) - LINK_KEYS)
    if unknown:
        errors.append(f"unknown keys {', '.join(unknown)}")
    remote = link.get("remote")
    state = link.get("state", "present")
    if state not in ("present", "absent"):
        errors.append(f"state must be present or absent (it is {state!r})")

    plan = {
        "index": index,
        "name": label,
        "state": state,
        "remote": remote,
        "remote_host": None,
        "url": None,
        "pull": bool(link.get("pull", False)),
        "push": bool(link.get("push", False)),
        "pull_rules": link.get("pull_rules"),
        "push_rules": link.get("push_rules"),
        "remote_org_name": link.get("remote_org_name"),
        "remote_org_uuid": link.get("remote_org_uuid"),
        "remote_api_key_given": bool(link.get("remote_api_key")),
        "ca_file": link.get("ca_file") or None,
        "local_ca_file": None,
        "self_signed": bool(link.get("self_signed", False)),
        "update_authkey": bool(link.get("update_authkey", False)),
        "options": {k: link[k] for k in LINK_SERVER_OPTIONS if link.get(k) is not None},
        "sync_user_email": None,
        "sync_user_org_name": local.get("org_name"),
        "sync_user_org_uuid": local.get("org_uuid"),
        "key_comment": None,
        "key_file": None,
        "sharing_groups": [],
        "errors": errors,
    }
    if plan["ca_file"]:
        plan["local_ca_file"] = f"{secrets_dir}/{slug(label)}-ca.pem"

    if not remote or not isinstance(remote, str):
        errors.append("needs remote: an inventory hostname or the URL of the remote MISP")
    elif remote in inventory_hosts:
        _plan_inventory_remote(plan, link, local, peers, secrets_dir, user_domain, key_comment_prefix)
    elif _is_url(remote):
        _plan_url_remote(plan, link)
    else:
        errors.append(f"remote '{remote}' is neither an inventory hostname nor an http(s) URL")

    if state == "present" and not (plan["pull"] or plan["push"]):
        errors.append("set pull: true, push: true or both (a link that does neither syncs nothing)")
    for kind in ("pull", "push"):
        rules = link.get(f"{kind}_rules")
        if rules is not None and not isinstance(rules, dict):
            errors.append(f"{kind}_rules must be a mapping (tags/orgs/...), not {type(rules).__name__}")
    if link.get("url") is not None and not _is_url(link.get("url")):
        errors.append(f"url must be an http(s) URL (it is {link.get('url')!r})")
    if plan["url"] and plan["url"].lower().startswith("http://") and not plan["self_signed"]:
        # Allowed, but it makes the sync key travel in clear text: say so in the plan.
        plan["warnings"] = [f"link {label}: {plan['url']} is plain http; the sync key crosses the network in clear"]
    plan["sharing_groups"] = _plan_sharing_groups(plan, link.get("sharing_groups"), local)
    return plan


def _plan_inventory_remote(plan, link, local, peers, secrets_dir, user_domain, key_comment_prefix):
    errors = plan["errors"]
    remote = plan["remote"]
    if remote == local.get("host"):
        errors.append("remote is this host itself")
        return
    peer = peers.get(remote)
    if peer is None:
        errors.append(
            f"remote '{remote}' is in the inventory but not in this play: run the play on both hosts "
            "(do not --limit the remote away), or give its URL with remote_org_*, remote_api_key"
        )
        return
    plan["remote_host"] = remote
    plan["url"] = normalise_url(link.get("url") or peer.get("url"))
    plan["remote_org_name"] = link.get("remote_org_name") or peer.get("org_name")
    plan["remote_org_uuid"] = link.get("remote_org_uuid") or peer.get("org_uuid")
    for key in ("api_url", "api_ca_path", "validate_certs"):
        plan[f"remote_{key}"] = peer.get(key)
    if link.get("remote_api_key"):
        errors.append(f"remote_api_key is for remotes outside the inventory; the key for '{remote}' is created there")
    if not local.get("org_uuid") or not local.get("org_name"):
        errors.append(
            "this instance's organisation name and uuid must be known to create it on the remote "
            "(misp_app_org_name/misp_app_org_uuid or misp_sync_org_name/misp_sync_org_uuid)"
        )
    if not _is_url(plan["url"]):
        errors.append(f"no URL for '{remote}' (set misp_app_baseurl there or url on the link)")
    host = slug(local.get("host", "local"))
    plan["sync_user_email"] = link.get("sync_user_email") or f"sync-{host.lower()}@{user_domain}"
    plan["key_comment"] = f"{key_comment_prefix}:{host}"
    plan["key_file"] = f"{peer.get('secrets_dir') or secrets_dir}/{host}.key"
    _check_remote_org(plan)


def _plan_url_remote(plan, link):
    errors = plan["errors"]
    plan["url"] = normalise_url(link.get("url") or plan["remote"])
    if plan["state"] == "present" and not link.get("remote_api_key"):
        errors.append("a remote outside the inventory needs remote_api_key (the sync user's key, from the vault)")
    if link.get("sync_user_email"):
        errors.append("sync_user_email only applies to a remote in the inventory")
    _check_remote_org(plan)


def _check_remote_org(plan):
    if plan["state"] != "present":
        return
    uuid, name = plan["remote_org_uuid"], plan["remote_org_name"]
    if not uuid or not name:
        errors_text = "remote_org_uuid and remote_org_name (the remote's host organisation) are needed"
        if plan["remote_host"]:
            errors_text += f"; set misp_app_org_name/misp_app_org_uuid on '{plan['remote_host']}'"
        plan["errors"].append(errors_text)
    elif not _match(_UUID_RE, uuid):
        plan["errors"].append(f"remote_org_uuid '{uuid}' is not a UUID")
    else:
        plan["remote_org_uuid"] = uuid.lower()


def _plan_sharing_groups(plan, groups, local):
    out = []
    if groups is None:
        return out
    if not isinstance(groups, list):
        plan["errors"].append("sharing_groups must be a list")
        return out
    for pos, group in enumerate(groups):
        if not isinstance(group, dict):
            plan["errors"].append(f"sharing group #{pos + 1} must be a mapping")
            continue
        label = group.get("name") or group.get("uuid") or f"#{pos + 1}"
        unknown = sorted(set(group) - SHARING_GROUP_KEYS)
        if unknown:
            plan["errors"].append(f"sharing group {label}: unknown keys {', '.join(unknown)}")
        if not _match(_UUID_RE, group.get("uuid")):
            plan["errors"].append(f"sharing group {label}: needs a uuid (generate it once with uuidgen)")
        if not group.get("name"):
            plan["errors"].append(f"sharing group {label}: needs a name")
        orgs = []
        if local.get("org_uuid"):
            orgs.append({"uuid": str(local["org_uuid"]).lower(), "name": local.get("org_name"), "extend": True})
        if plan["remote_org_uuid"]:
            orgs.append(
                {"uuid": str(plan["remote_org_uuid"]).lower(), "name": plan["remote_org_name"], "extend": False}
            )
        for extra in group.get("organisations") or []:
            if not isinstance(extra, dict) or not (extra.get("uuid") or extra.get("name")):
                plan["errors"].append(f"sharing group {label}: organisations take uuid and/or name (and extend)")
                continue
            entry = {k: extra[k] for k in ("uuid", "name", "extend") if extra.get(k) is not None}
            if entry.get("uuid"):
                entry["uuid"] = str(entry["uuid"]).lower()
            if not any(
                (entry.get("uuid") and entry.get("uuid") == o.get("uuid"))
                or (not entry.get("uuid") and entry.get("name") == o.get("name"))
                for o in orgs
            ):
                orgs.append(entry)
        servers = [{"local": True}]
        if plan["url"]:
            servers.append({"url": plan["url"], "all_orgs": bool(group.get("all_orgs", False))})
        sg = {
            "uuid": str(group.get("uuid", "")).lower(),
            "name": group.get("name"),
            "roaming": False,
            "organisations": orgs,
            "servers": servers,
        }
        for key in ("description", "releasability"):
            if group.get(key) is not None:
                sg[key] = group[key]
        out.append(sg)
    return out


def _cross_link_errors(plans):
    seen_names, seen_urls, seen_groups = {}, {}, {}
    for plan in plans:
        name = str(plan.get("name", "")).lower()
        if name in seen_names:
            plan["errors"].append(f"the name is used by another link ({seen_names[name]})")
        seen_names.setdefault(name, plan["name"])
        url = (plan.get("url") or "").lower()
        if url:
            if url in seen_urls:
                plan["errors"].append(f"another link ({seen_urls[url]}) already points at {plan['url']}")
            seen_urls.setdefault(url, plan["name"])
        for group in plan.get("sharing_groups", []):
            for key in (group["uuid"], str(group.get("name") or "").lower()):
                if not key:
                    continue
                if key in seen_groups and seen_groups[key] != plan["name"]:
                    plan["errors"].append(f"sharing group {group['name']} is also declared by link {seen_groups[key]}")
                seen_groups.setdefault(key, plan["name"])


def plan_errors(plans):
    """All errors of a plan as "link <name>: <error>" lines."""
    return [f"link {plan.get('name')}: {error}" for plan in plans or [] for error in plan.get("errors", [])]


def link_failure_message(plan, connection):
    """One line per failed link for the play's failure: where, what, and the fix."""
    where = f"link {plan.get('name')} (to {plan.get('url') or plan.get('remote')})"
    if not connection:
        return f"{where}: not tested (the server entry does not exist)"
    text = f"{where}: {connection.get('result')}: {connection.get('message')}"
    if connection.get("fix"):
        text += f" Fix: {connection['fix']}"
    return text
