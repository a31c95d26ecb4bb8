"""Test doubles for the mispops.misp modules: a fake MISP transport and a fake AnsibleModule.

Usage::

    fake = FakeMisp()
    fake.route("GET", "/organisations/index/scope:all", [{"Organisation": {...}}])
    fake.route("POST", r"^/admin/organisations/edit/(\\d+)$", lambda req: {"Organisation": {...}})
    client = fake.client()                       # MispClient(..., transport=fake)
    result = run_manager(OrgManager, {"name": "X"}, fake, check_mode=True, spec=ARGUMENT_SPEC)
    assert fake.calls == [("GET", "/organisations/index/scope:all", None)]

A handler gets a :class:`FakeRequest` and returns a JSON-able object, ``(status, obj)``, or
bytes/str for a raw body; it may raise ``ConnectionRefusedError`` & co. to simulate network
failures. Unknown routes answer 404 with MISP's error envelope.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

from ansible_collections.mispops.misp.plugins.module_utils.misp_client import MispClient
from ansible_collections.mispops.misp.plugins.module_utils.misp_module import execute

FAKE_URL = "https://misp.test"
FAKE_KEY = "K" * 40


@dataclass
class FakeRequest:
    method: str
    path: str
    query: dict
    json: object
    headers: dict
    url: str
    timeout: object = None
    validate_certs: object = None
    ca_path: object = None
    match: object = None
    raw_body: bytes | None = None


@dataclass
class _Route:
    method: str
    path: object  # str (exact) or compiled regex (fullmatch)
    handler: object
    status: int = 200
    headers: dict = field(default_factory=dict)

    def matches(self, method, path):
        if self.method != method and self.method != "*":
            return None
        if isinstance(self.path, re.Pattern):
            return self.path.fullmatch(path)
        return path if self.path == path else None


def envelope(message, name=None, url="/", errors=None, saved=None):
    """MISP's error envelope (RestResponseComponent::saveFailResponse and friends)."""
    body = {"name": name or message, "message": message, "url": url}
    if errors is not None:
        body["errors"] = errors
    if saved is not None:
        body["saved"] = saved
    return body


class FakeMisp:
    """Callable transport with route handlers; records every request in ``calls``."""

    def __init__(self):
        self.routes = []
        self.calls = []  # [(method, path, json_body)]
        self.requests = []  # [FakeRequest]

    def route(self, method, path, handler_or_json=None, status=200, headers=None):
        """Register a route. ``path``: exact string, a compiled regex, or a string starting
        with ``^`` (regex, full match). Later routes win over earlier ones."""
        if isinstance(path, str) and path.startswith("^"):
            path = re.compile(path)
        self.routes.insert(0, _Route(method.upper(), path, handler_or_json, status, headers or {}))
        return self

    # The transport interface of MispClient
    def __call__(self, method, url, headers, body, timeout, validate_certs, ca_path):
        parts = urlsplit(url)
        base_path = urlsplit(FAKE_URL).path.rstrip("/")
        path = parts.path[len(base_path) :] if base_path and parts.path.startswith(base_path) else parts.path
        payload = json.loads(body) if body else None
        req = FakeRequest(
            method=method,
            path=path,
            query={k: v[0] if len(v) == 1 else v for k, v in parse_qs(parts.query).items()},
            json=payload,
            headers=dict(headers),
            url=url,
            timeout=timeout,
            validate_certs=validate_certs,
            ca_path=ca_path,
            raw_body=body,
        )
        self.calls.append((method, path, payload))
        self.requests.append(req)
        for r in self.routes:
            m = r.matches(method, path)
            if m is None:
                continue
            req.match = m
            status, result = r.status, r.handler
            if callable(result):
                result = result(req)
                if isinstance(result, tuple) and len(result) == 2 and isinstance(result[0], int):
                    status, result = result
            return status, _encode(result), dict(r.headers)
        return 404, _encode(envelope("Not Found", url=path)), {}

    # Convenience
    def client(self, **kwargs):
        kwargs.setdefault("sleep", lambda _s: None)
        return MispClient(kwargs.pop("url", FAKE_URL), kwargs.pop("api_key", FAKE_KEY), transport=self, **kwargs)

    def writes(self):
        """Calls other than GET (what changed MISP)."""
        return [c for c in self.calls if c[0] != "GET"]

    def reset(self):
        self.calls.clear()
        self.requests.clear()


def _encode(result):
    if result is None:
        return b""
    if isinstance(result, bytes):
        return result
    if isinstance(result, str):
        return result.encode()
    return json.dumps(result).encode()


# --------------------------------------------------------------------------------------
# Fake AnsibleModule
# --------------------------------------------------------------------------------------
class AnsibleExitJson(Exception):
    def __init__(self, result):
        super().__init__(result)
        self.result = result


class AnsibleFailJson(Exception):
    def __init__(self, result):
        super().__init__(result.get("msg"))
        self.result = result


class FakeModule:
    """Just enough of AnsibleModule for the managers: params, check_mode, exit/fail, warn."""

    def __init__(self, params, check_mode=False, spec=None, run_command=None):
        self.params = with_defaults(params, spec) if spec else dict(params)
        self.check_mode = check_mode
        self.warnings = []
        self.no_log_values = set()
        self.commands = []  # argv lists given to run_command
        # run_command handler: callable(argv) -> (rc, out, err); default: rc 0, no output
        self._run_command = run_command or (lambda argv: (0, "", ""))

    def run_command(self, args, **_kwargs):
        self.commands.append(list(args))
        return self._run_command(list(args))

    def get_bin_path(self, name, required=False, opt_dirs=None):
        return name if name.startswith("/") else f"/usr/bin/{name}"

    def exit_json(self, **kwargs):
        kwargs.setdefault("changed", False)
        raise AnsibleExitJson(kwargs)

    def fail_json(self, msg, **kwargs):
        kwargs["msg"] = msg
        kwargs["failed"] = True
        raise AnsibleFailJson(kwargs)

    def warn(self, msg):
        self.warnings.append(msg)

    def deprecate(self, msg, **_kwargs):
        self.warnings.append(msg)


def with_defaults(params, spec):
    """Fill missing options with their spec default (or None), recursively for suboptions."""
    out = dict(params)
    for name, opt in spec.items():
        if name not in out:
            out[name] = opt.get("default")
        sub = opt.get("options")
        if sub and out[name] is not None:
            if opt.get("type") == "list":
                out[name] = [with_defaults(x, sub) if isinstance(x, dict) else x for x in out[name]]
            elif isinstance(out[name], dict):
                out[name] = with_defaults(out[name], sub)
    return out


def run_manager(manager_cls, params, fake, check_mode=False, spec=None, client=None, module=None):
    """Run a manager like run_module does (same error mapping) and return the result dict.

    Returns the exit_json kwargs; a failure is returned too, with ``failed: True``.
    Pass ``module`` (a FakeModule) to inspect warnings, commands or no_log_values afterwards.
    """
    module = module or FakeModule(params, check_mode=check_mode, spec=spec)
    client = client or fake.client()
    try:
        execute(module, manager_cls, client)
    except AnsibleExitJson as e:
        return e.result
    except AnsibleFailJson as e:
        return e.result
    raise AssertionError("manager ended without exit_json/fail_json")
