"""Unit tests for plugins/module_utils/misp_client.py (fake transport, no network)."""

from __future__ import annotations

import json
import ssl
from urllib.error import HTTPError, URLError

import pytest
from ansible_collections.mispops.misp.plugins.module_utils import misp_client
from ansible_collections.mispops.misp.plugins.module_utils.misp_client import (
    MispApiError,
    MispClient,
    MispConnectionError,
    client_from_module,
    misp_argument_spec,
)
from fake_misp import FAKE_KEY, FakeMisp, FakeModule, envelope

AUTH_FAILED = (
    "Authentication failed. Please make sure you pass the API key of an API enabled user along in the "
    "Authorization header."
)


@pytest.fixture
def fake():
    return FakeMisp()


def test_headers_auth_and_json(fake):
    fake.route("GET", "/servers/getVersion", {"version": "2.5.1"})
    client = fake.client()
    assert client.get("/servers/getVersion") == {"version": "2.5.1"}
    headers = fake.requests[0].headers
    assert headers["Authorization"] == FAKE_KEY
    assert headers["Accept"] == "application/json"
    assert headers["Content-Type"] == "application/json"


def test_tls_options_and_timeout_passed(fake):
    fake.route("GET", "/users/view/me", {"User": {"id": "1"}})
    client = fake.client(validate_certs=False, ca_path="/etc/ssl/misp-ca.pem", timeout=7)
    client.get("/users/view/me")
    req = fake.requests[0]
    assert req.validate_certs is False
    assert req.ca_path == "/etc/ssl/misp-ca.pem"
    assert req.timeout == 7


def test_url_join_and_query_params(fake):
    fake.route("GET", "/admin/users/index", [])
    client = fake.client(url="https://misp.test/")
    client.get("admin/users/index", params={"limit": 5, "active": True, "skip": None})
    req = fake.requests[0]
    assert req.url.startswith("https://misp.test/admin/users/index?")
    assert req.query == {"limit": "5", "active": "1"}


def test_post_sends_json_booleans_not_strings(fake):
    fake.route("POST", "/servers/serverSettingsEdit/MISP.live", {"saved": True, "message": "Field updated"})
    client = fake.client()
    client.post("/servers/serverSettingsEdit/MISP.live", {"value": False, "force": True})
    raw = fake.requests[0].raw_body.decode()
    assert json.loads(raw) == {"value": False, "force": True}
    assert '"value": false' in raw and '"false"' not in raw
    assert fake.calls == [("POST", "/servers/serverSettingsEdit/MISP.live", {"value": False, "force": True})]


def test_post_without_data_sends_empty_object_and_delete_sends_delete(fake):
    fake.route("POST", "/news/delete/3", {"saved": True})
    fake.route("DELETE", "/admin/organisations/delete/4", {"saved": True})
    client = fake.client()
    client.post("/news/delete/3")
    client.delete("/admin/organisations/delete/4")
    assert fake.calls == [("POST", "/news/delete/3", {}), ("DELETE", "/admin/organisations/delete/4", None)]


def test_auth_failure_403(fake):
    fake.route("GET", "/users/view/me", envelope(AUTH_FAILED, url="/users/view/me"), status=403)
    with pytest.raises(MispApiError) as exc:
        fake.client().get("/users/view/me")
    e = exc.value
    assert e.status == 403
    assert e.message == AUTH_FAILED
    assert e.method == "GET"
    assert str(e) == f"GET /users/view/me: HTTP 403: {AUTH_FAILED}"
    assert not isinstance(e, MispConnectionError)


def test_validation_failure_403_keeps_misp_errors(fake):
    body = {
        "saved": False,
        "name": "Could not add Organisation",
        "message": "Could not add Organisation",
        "url": "/admin/organisations/add",
        "errors": {"name": ["An organisation with this name already exists."]},
    }
    fake.route("POST", "/admin/organisations/add", body, status=403)
    with pytest.raises(MispApiError) as exc:
        fake.client().post("/admin/organisations/add", {"name": "ORG"})
    e = exc.value
    assert e.status == 403
    assert e.message == "Could not add Organisation: name: An organisation with this name already exists."
    assert e.body["errors"]["name"] == ["An organisation with this name already exists."]
    assert "HTTP 403" in str(e) and "already exists" in str(e)


def test_setting_test_failure_message(fake):
    body = envelope("Setting change rejected.", errors="Invalid baseurl, it has to be in the https://FQDN format.")
    fake.route("POST", "/servers/serverSettingsEdit/MISP.baseurl", body, status=403)
    with pytest.raises(MispApiError) as exc:
        fake.client().post("/servers/serverSettingsEdit/MISP.baseurl", {"value": "x", "force": False})
    assert exc.value.message == "Setting change rejected.: Invalid baseurl, it has to be in the https://FQDN format."


def test_saved_false_with_200_is_an_error(fake):
    fake.route("POST", "/x/add", {"saved": False, "errors": "nope"})
    with pytest.raises(MispApiError) as exc:
        fake.client().post("/x/add", {})
    assert exc.value.status == 200
    assert exc.value.message == "nope"


def test_unknown_route_is_404_envelope_and_text_bodies(fake):
    fake.route("GET", "/html", "<html>Internal error</html>", status=500)
    client = fake.client()
    with pytest.raises(MispApiError) as exc:
        client.get("/nope")
    assert exc.value.status == 404 and exc.value.message == "Not Found"
    with pytest.raises(MispApiError) as exc:
        client.get("/html")
    assert exc.value.status == 500 and "Internal error" in exc.value.message


def test_empty_body_and_redirect_status_recorded(fake):
    fake.route("POST", "/news/add", b"", status=302, headers={"Location": "https://misp.test/news/index"})
    client = fake.client()
    assert client.post("/news/add", {"News": {"title": "t"}}) is None
    assert client.last_status == 302
    assert client.last_headers["Location"].endswith("/news/index")


def test_retries_only_connection_errors_then_succeeds(fake):
    attempts = []

    def flaky(req):
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionRefusedError("refused")
        return {"ok": True}

    fake.route("GET", "/servers/getVersion", flaky)
    sleeps = []
    client = fake.client(sleep=sleeps.append, retries=3, backoff=0.5)
    assert client.get("/servers/getVersion") == {"ok": True}
    assert client.api_calls == 3
    assert sleeps == [0.5, 1.0]


def test_connection_error_after_retries_exhausted(fake):
    def down(req):
        raise URLError(ConnectionRefusedError(111, "Connection refused"))

    fake.route("GET", "/servers/getVersion", down)
    client = fake.client(retries=2)
    with pytest.raises(MispConnectionError) as exc:
        client.get("/servers/getVersion")
    assert exc.value.status is None
    assert client.api_calls == 3
    assert "connection failed" in str(exc.value) and "3 attempt" in str(exc.value)


def test_http_errors_are_never_retried(fake):
    fake.route("GET", "/servers/getVersion", envelope("boom"), status=500)
    fake.route("GET", "/users/view/me", envelope(AUTH_FAILED), status=403)
    client = fake.client(retries=5)
    for path in ("/servers/getVersion", "/users/view/me"):
        with pytest.raises(MispApiError):
            client.get(path)
    assert client.api_calls == 2


def test_post_not_retried_after_timeout_but_on_refused(fake):
    def slow(req):
        raise TimeoutError("timed out")

    fake.route("POST", "/admin/users/add", slow)
    client = fake.client(retries=3)
    with pytest.raises(MispConnectionError):
        client.post("/admin/users/add", {"email": "a@b.c"})
    assert client.api_calls == 1  # the request may have reached MISP: never sent twice

    calls = []

    def refused_once(req):
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionRefusedError("refused")
        return {"User": {"id": "9"}}

    fake.route("POST", "/admin/users/add", refused_once)
    assert client.post("/admin/users/add", {"email": "a@b.c"}) == {"User": {"id": "9"}}


def test_get_retries_timeouts_but_not_certificate_errors(fake):
    state = {"n": 0}

    def timeout_once(req):
        state["n"] += 1
        if state["n"] == 1:
            raise TimeoutError("timed out")
        return []

    fake.route("GET", "/roles/index", timeout_once)
    client = fake.client()
    assert client.get("/roles/index") == []

    def bad_cert(req):
        raise URLError(ssl.SSLCertVerificationError("certificate verify failed"))

    fake.route("GET", "/users/view/me", bad_cert)
    before = client.api_calls
    with pytest.raises(MispConnectionError) as exc:
        client.get("/users/view/me")
    assert client.api_calls == before + 1
    assert "certificate verify failed" in exc.value.message


def test_api_calls_counts_every_request(fake):
    fake.route("GET", "/a", {})
    fake.route("POST", "/b", {})
    client = fake.client()
    client.get("/a")
    client.post("/b", {})
    client.get("/a")
    with pytest.raises(MispApiError):
        client.get("/missing")
    assert client.api_calls == 4
    assert len(fake.calls) == 4


def test_default_transport_reads_http_errors(monkeypatch):
    seen = {}

    class Headers(dict):
        def items(self):
            return super().items()

    def fake_open_url(url, **kwargs):
        seen.update(kwargs, url=url)
        raise HTTPError(url, 403, "Forbidden", Headers({"X": "1"}), _Body(b'{"message": "no"}'))

    monkeypatch.setattr(misp_client, "open_url", fake_open_url)
    status, body, headers = misp_client.default_transport(
        "GET", "https://m/x", {"Authorization": "k"}, None, 9, False, "/ca.pem"
    )
    assert (status, body, headers) == (403, b'{"message": "no"}', {"X": "1"})
    assert seen["timeout"] == 9 and seen["validate_certs"] is False and seen["ca_path"] == "/ca.pem"
    assert seen["follow_redirects"] == "none" and seen["method"] == "GET"


def test_default_transport_success(monkeypatch):
    class Resp:
        headers = {"Content-Type": "application/json"}

        def getcode(self):
            return 200

        def read(self):
            return b"{}"

    monkeypatch.setattr(misp_client, "open_url", lambda url, **kw: Resp())
    assert misp_client.default_transport("GET", "https://m/x", {}, None, 1, True, None) == (
        200,
        b"{}",
        {"Content-Type": "application/json"},
    )


def test_client_uses_default_transport_when_none(monkeypatch):
    monkeypatch.setattr(misp_client, "default_transport", lambda *a: (200, b"[1]"))
    client = MispClient("https://m", "k")
    assert client.get("/x") == [1]


def test_argument_spec_and_client_from_module():
    spec = misp_argument_spec()
    assert spec["misp_api_key"]["no_log"] is True
    assert spec["misp_url"]["required"] and spec["misp_api_key"]["required"]
    assert spec["validate_certs"]["default"] is True and spec["timeout"]["default"] == 30
    assert spec["misp_url"]["fallback"][1] == ["MISP_URL"]
    assert spec["misp_api_key"]["fallback"][1] == ["MISP_API_KEY"]
    module = FakeModule({"misp_url": "https://m/", "misp_api_key": "k"}, spec=spec)
    client = client_from_module(module, transport=FakeMisp())
    assert client.base_url == "https://m" and client.timeout == 30 and client.validate_certs is True


class _Body:
    def __init__(self, data):
        self.data = data

    def read(self, *args):
        return self.data

    def close(self):
        pass
