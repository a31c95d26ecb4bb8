# Copyright: (c) 2026, mispops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Minimal MISP REST client built only on ansible.module_utils.urls.

Why not PyMISP: modules must run on the MISP host or the controller with nothing but
what ansible-core ships. PyMISP also swallows 4xx answers into ``{"errors": ...}``;
this client raises a typed :class:`MispApiError` instead, carrying MISP's own message.

MISP conventions handled here (see docs/misp-reference.md section 0):

* auth is ``Authorization: <key>`` and MISP only treats a request as REST when
  ``Accept``/``Content-Type`` are ``application/json``;
* failures come back as an envelope ``{"name", "message", "url", "errors"}`` or
  ``{"saved": false, "errors": ...}``, usually with HTTP 403, which therefore means
  "validation failed" as often as "bad key";
* booleans must be sent as JSON booleans, never as the strings "true"/"false".
"""

from __future__ import annotations

import json
import socket
import ssl
import time
from urllib.error import HTTPError
from urllib.parse import urlencode, urlsplit

from ansible.module_utils.basic import env_fallback
from ansible.module_utils.urls import open_url

USER_AGENT = "mispops.misp"
# How much of a non-JSON error body (an HTML error page, say) is kept in messages.
_TEXT_LIMIT = 300


class MispApiError(Exception):
    """An HTTP request to MISP failed.

    ``status`` is the HTTP status (``None`` for connection problems), ``message`` the text
    MISP gave (envelope ``message``/``name`` plus flattened ``errors``), ``body`` the parsed
    JSON (or text) of the answer.
    """

    def __init__(self, message, status=None, url=None, method=None, body=None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.url = url
        self.method = method
        self.body = body

    @property
    def path(self):
        return urlsplit(self.url or "").path or (self.url or "")

    def __str__(self):
        where = f"{self.method or '?'} {self.path}"
        if self.status is None:
            return f"{where}: connection failed: {self.message}"
        return f"{where}: HTTP {self.status}: {self.message}"


class MispConnectionError(MispApiError):
    """MISP could not be reached (after the retries were used up). ``status`` is None."""


def default_transport(method, url, headers, body, timeout, validate_certs, ca_path):
    """Send one request with open_url; return ``(status, body_bytes, headers)``.

    HTTP errors are read and returned like successes so that the client can parse MISP's
    error envelope. Redirects are *not* followed: MISP answers some HTML-only actions
    (news add/edit) with a 302 meaning "saved", and a redirect to ``/users/login`` means
    the key was not accepted; following either would hide what happened.
    Connection problems propagate as OSError subclasses (URLError, socket.timeout, ...).
    """
    try:
        resp = open_url(
            url,
            data=body,
            headers=headers,
            method=method,
            timeout=timeout,
            validate_certs=validate_certs,
            ca_path=ca_path,
            follow_redirects="none",
            http_agent=USER_AGENT,
            use_netrc=False,
        )
        return resp.getcode(), resp.read(), dict(resp.headers.items())
    except HTTPError as e:
        try:
            data = e.read()
        except Exception:  # the error may carry no readable body at all
            data = b""
        return e.code, data, dict(e.headers.items()) if e.headers else {}


def _flatten_errors(errors):
    """Turn MISP's ``errors`` (string, list, or {field: [msgs]}) into one line."""
    if errors in (None, "", [], {}):
        return ""
    if isinstance(errors, str):
        return errors
    if isinstance(errors, dict):
        parts = []
        for field, msgs in errors.items():
            text = _flatten_errors(msgs)
            parts.append(f"{field}: {text}" if text else str(field))
        return "; ".join(parts)
    if isinstance(errors, (list, tuple)):
        return "; ".join(t for t in (_flatten_errors(x) for x in errors) if t)
    return str(errors)


def error_message(body, status=None):
    """Best human-readable message from a MISP answer (envelope, PyMISP-style or text)."""
    if isinstance(body, dict):
        head = body.get("message") or body.get("name") or ""
        if not isinstance(head, str):
            head = json.dumps(head)
        detail = _flatten_errors(body.get("errors"))
        if detail and detail not in head:
            return f"{head}: {detail}" if head else detail
        if head:
            return head
        return json.dumps(body)[:_TEXT_LIMIT]
    if isinstance(body, list):
        return _flatten_errors(body) or f"HTTP {status}"
    if isinstance(body, str) and body.strip():
        return body.strip()[:_TEXT_LIMIT]
    return f"HTTP {status} with an empty body"


def _is_failure_envelope(body):
    return isinstance(body, dict) and body.get("saved") is False


def _unwrap_reason(exc):
    # URLError hides the real cause in .reason (socket.gaierror, ConnectionRefusedError, SSL errors...)
    reason = getattr(exc, "reason", None)
    return reason if isinstance(reason, BaseException) else exc


def _retryable(exc, method):
    """Connection errors are retried; HTTP statuses never are (they are answers).

    A certificate failure will not heal by retrying. For POST/DELETE only errors that
    prove the request never reached MISP are retried, so a create is not sent twice
    after a timeout or a reset once the request was on the wire.
    """
    cause = _unwrap_reason(exc)
    if isinstance(cause, ssl.SSLCertVerificationError):
        return False
    if method == "GET":
        return isinstance(cause, (OSError, TimeoutError))
    return isinstance(cause, (ConnectionRefusedError, socket.gaierror))


class MispClient:
    """Small JSON client for MISP's REST API. ``api_calls`` counts HTTP requests made."""

    def __init__(
        self,
        url,
        api_key,
        validate_certs=True,
        ca_path=None,
        timeout=30,
        retries=3,
        transport=None,
        backoff=0.5,
        sleep=time.sleep,
    ):
        self.base_url = url.rstrip("/")
        self._api_key = api_key
        self.validate_certs = validate_certs
        self.ca_path = ca_path
        self.timeout = timeout
        self.retries = max(0, int(retries))
        self.backoff = backoff
        self._sleep = sleep
        self._transport = transport or default_transport
        self.api_calls = 0
        # Status and headers of the last answer (e.g. to see a 302 after news/add).
        self.last_status = None
        self.last_headers = {}

    # -- public API ----------------------------------------------------------------------
    def get(self, path, params=None, headers=None):
        return self.request("GET", path, params=params, headers=headers)

    def post(self, path, data=None):
        return self.request("POST", path, data={} if data is None else data)

    def delete(self, path):
        return self.request("DELETE", path)

    def request(self, method, path, data=None, params=None, headers=None):
        """Send one request; ``headers`` override the defaults (rarely needed, see misp_news)."""
        url = self._url(path, params)
        body = None if data is None else json.dumps(data).encode("utf-8")
        all_headers = {
            "Authorization": self._api_key,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        all_headers.update(headers or {})
        status, raw, resp_headers = self._send(method, url, all_headers, body)
        self.last_status = status
        self.last_headers = resp_headers
        parsed = self._parse(raw)
        if status >= 400 or _is_failure_envelope(parsed):
            raise MispApiError(error_message(parsed, status), status=status, url=url, method=method, body=parsed)
        return parsed

    # -- internals -----------------------------------------------------------------------
    def _url(self, path, params):
        url = self.base_url + "/" + path.lstrip("/")
        if params:
            clean = {k: _param(v) for k, v in params.items() if v is not None}
            url += ("&" if "?" in url else "?") + urlencode(clean, doseq=True)
        return url

    def _send(self, method, url, headers, body):
        attempt = 0
        while True:
            attempt += 1
            self.api_calls += 1
            try:
                result = self._transport(method, url, headers, body, self.timeout, self.validate_certs, self.ca_path)
            except (OSError, TimeoutError) as e:  # URLError, socket.timeout, ConnectionError are OSErrors
                if attempt > self.retries or not _retryable(e, method):
                    raise MispConnectionError(
                        f"{_unwrap_reason(e)} (after {attempt} attempt(s))", status=None, url=url, method=method
                    ) from e
                self._sleep(self.backoff * 2 ** (attempt - 1))
                continue
            status, raw = result[0], result[1]
            resp_headers = result[2] if len(result) > 2 else {}
            return int(status), raw, resp_headers or {}

    @staticmethod
    def _parse(raw):
        if raw is None:
            return None
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        if not raw.strip():
            return None
        try:
            return json.loads(raw)
        except ValueError:
            return raw


def _param(value):
    # Query strings have no booleans; MISP reads 1/0.
    if isinstance(value, bool):
        return int(value)
    return value


def misp_argument_spec():
    """Connection options shared by every module (documented in doc fragment mispops.misp.misp)."""
    return dict(
        misp_url=dict(type="str", required=True, fallback=(env_fallback, ["MISP_URL"])),
        misp_api_key=dict(type="str", required=True, no_log=True, fallback=(env_fallback, ["MISP_API_KEY"])),
        validate_certs=dict(type="bool", default=True),
        ca_path=dict(type="path"),
        timeout=dict(type="int", default=30),
    )


def client_from_module(module, transport=None):
    p = module.params
    return MispClient(
        p["misp_url"],
        p["misp_api_key"],
        validate_certs=p["validate_certs"],
        ca_path=p.get("ca_path"),
        timeout=p["timeout"],
        transport=transport,
    )
