"""The default transport (open_url) against a throw-away HTTP server on loopback."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from ansible_collections.mispops.misp.plugins.module_utils.misp_client import (
    MispApiError,
    MispClient,
    MispConnectionError,
)


class Handler(BaseHTTPRequestHandler):
    seen = []

    def log_message(self, *args):
        pass

    def _reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        Handler.seen.append(("GET", self.path, dict(self.headers), None))
        if self.path == "/servers/getVersion":
            self._reply(200, b'{"version": "2.5.1"}', {"Content-Type": "application/json"})
        elif self.path == "/users/view/me":
            body = json.dumps({"name": "Authentication failed.", "message": "Authentication failed.", "url": "/"})
            self._reply(403, body.encode(), {"Content-Type": "application/json"})
        else:
            self._reply(404, b"<html>not here</html>")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", 0))
        body = self.rfile.read(length)
        Handler.seen.append(("POST", self.path, dict(self.headers), body))
        if self.path == "/news/add":
            self._reply(302, b"", {"Location": "/news/index"})
        else:
            self._reply(200, b'{"saved": true}', {"Content-Type": "application/json"})


@pytest.fixture(scope="module")
def server():
    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_real_transport_roundtrip(server):
    Handler.seen.clear()
    client = MispClient(server, "A" * 40, timeout=5)
    assert client.get("/servers/getVersion") == {"version": "2.5.1"}
    method, path, headers, _ = Handler.seen[0]
    assert headers["Authorization"] == "A" * 40
    assert headers["Accept"] == "application/json" and headers["Content-Type"] == "application/json"

    assert client.post("/x/edit", {"flag": False}) == {"saved": True}
    assert json.loads(Handler.seen[-1][3]) == {"flag": False}


def test_real_transport_reads_http_errors(server):
    client = MispClient(server, "A" * 40, timeout=5)
    with pytest.raises(MispApiError) as exc:
        client.get("/users/view/me")
    assert exc.value.status == 403 and exc.value.message == "Authentication failed."
    with pytest.raises(MispApiError) as exc:
        client.get("/nope")
    assert exc.value.status == 404 and "not here" in exc.value.message
    assert client.api_calls == 2


def test_real_transport_does_not_follow_redirects(server):
    Handler.seen.clear()
    client = MispClient(server, "A" * 40, timeout=5)
    assert client.post("/news/add", {"News": {"title": "t"}}) is None
    assert client.last_status == 302
    assert client.last_headers.get("Location") == "/news/index"
    assert [s[1] for s in Handler.seen] == ["/news/add"]


def test_real_transport_connection_refused_is_retried():
    probe = HTTPServer(("127.0.0.1", 0), Handler)
    port = probe.server_address[1]
    probe.server_close()  # nothing listens there any more
    sleeps = []
    client = MispClient(f"http://127.0.0.1:{port}", "A" * 40, timeout=2, retries=2, sleep=sleeps.append)
    with pytest.raises(MispConnectionError):
        client.get("/servers/getVersion")
    assert client.api_calls == 3 and len(sleeps) == 2
