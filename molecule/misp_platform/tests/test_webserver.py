"""Apache: TLS with the host's self-signed certificate, HTTP redirected, security headers, hardening."""

import pytest

CERT = "/etc/ssl/certs/misp.crt"


@pytest.fixture(scope="module")
def name(host):
    # misp_webserver_server_name defaults to the host's FQDN: the container's name here.
    return host.check_output("hostname -f")


def test_apache_enabled_and_running(host):
    service = host.service("apache2")
    assert service.is_enabled
    assert service.is_running


def test_event_mpm_and_no_mod_php(host):
    modules = host.check_output("apache2ctl -M 2>/dev/null")
    assert "mpm_event_module" in modules
    assert "proxy_fcgi_module" in modules
    assert "mpm_prefork_module" not in modules
    assert "php" not in modules


def test_tls_handshake_serves_the_hosts_certificate(host, name):
    served = host.check_output(
        f"openssl s_client -connect 127.0.0.1:443 -servername {name} </dev/null 2>/dev/null"
        " | openssl x509 -noout -fingerprint -sha256"
    )
    on_disk = host.check_output(f"openssl x509 -in {CERT} -noout -fingerprint -sha256")
    assert served == on_disk
    details = host.check_output(f"openssl x509 -in {CERT} -noout -subject -ext subjectAltName")
    assert f"CN = {name}" in details or f"CN={name}" in details
    assert f"DNS:{name}" in details


def test_certificate_verifies_for_the_host_name(host, name):
    # curl checks the chain (the self-signed certificate as its own CA) and the name.
    result = host.run(f"curl -sS --cacert {CERT} -o /dev/null -w '%{{http_code}}' https://{name}/")
    assert result.rc == 0, result.stderr
    assert result.stdout == "200"


def test_private_key_is_root_only(host):
    key = host.file("/etc/ssl/private/misp.key")
    assert key.user == "root"
    assert key.mode == 0o600


@pytest.mark.parametrize("protocol", ["-tls1", "-tls1_1"])
def test_old_tls_versions_refused(host, name, protocol):
    result = host.run(f"openssl s_client {protocol} -connect 127.0.0.1:443 -servername {name} </dev/null")
    assert result.rc != 0


def test_http_redirects_to_https_on_the_canonical_name(host, name):
    out = host.check_output(
        "curl -sS -o /dev/null -w '%{http_code} %{redirect_url}' -H 'Host: evil.example' "
        "'http://127.0.0.1/events/index?page=2'"
    )
    assert out == f"301 https://{name}/events/index?page=2"


def test_security_headers(host, name):
    headers = host.check_output(f"curl -sS --cacert {CERT} -D - -o /dev/null https://{name}/").lower()
    assert "strict-transport-security: max-age=31536000" in headers
    assert "x-content-type-options: nosniff" in headers
    assert "x-frame-options: deny" in headers
    assert "referrer-policy: same-origin" in headers
    assert "content-security-policy: frame-ancestors 'none'" in headers
    assert "\nserver: apache\r" in headers  # ServerTokens Prod: no version, no OS
    assert "x-powered-by" not in headers  # expose_php off


def test_trace_refused(host, name):
    code = host.check_output(f"curl -sS --cacert {CERT} -X TRACE -o /dev/null -w '%{{http_code}}' https://{name}/")
    assert code == "405"


def test_keepalive_timeout_for_pymisp(host):
    config = host.check_output("cat /etc/apache2/conf-enabled/*.conf")
    assert "KeepAliveTimeout 60" in config
    assert not host.file("/etc/apache2/conf-enabled/security.conf").exists
