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
