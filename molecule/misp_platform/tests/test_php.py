"""PHP-FPM: MISP's pool answers through Apache over HTTPS, with MISP's php.ini values and extensions."""

import json

import pytest

CERT = "/etc/ssl/certs/misp.crt"


@pytest.fixture(scope="module")
def php(host):
    """The PHP branch the release ships: 8.2 on Debian 12, 8.4 on Debian 13."""
    return host.check_output("php -r 'echo PHP_MAJOR_VERSION, \".\", PHP_MINOR_VERSION;'")


def probe(host, path="/", *curl_args):
    args = " ".join(curl_args)
    name = host.check_output("hostname -f")
    return json.loads(host.check_output(f"curl -sS --cacert {CERT} {args} 'https://{name}{path}'"))


def test_fpm_enabled_and_running(host, php):
    assert php == {"12": "8.2", "13": "8.4"}[host.system_info.release.split(".")[0]]
    service = host.service(f"php{php}-fpm")
    assert service.is_enabled
    assert service.is_running


def test_pool_socket_belongs_to_the_web_user(host, php):
    socket = host.file("/run/php/php-fpm-misp.sock")
    assert socket.is_socket
    assert socket.user == "www-data"
    assert socket.group == "www-data"
    assert socket.mode == 0o660
    assert not host.file(f"/etc/php/{php}/fpm/pool.d/www.conf").exists


def test_pool_answers_as_the_web_user(host):
    data = probe(host)
    assert data["sapi"] == "fpm-fcgi"
    assert data["user"] == "www-data"
    assert data["https"] == "on"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("memory_limit", "2048M"),
        ("max_execution_time", "300"),
        ("upload_max_filesize", "50M"),
        ("post_max_size", "50M"),
        ("date.timezone", "Europe/Rome"),
        ("session.use_strict_mode", "1"),
        ("session.cookie_httponly", "1"),
        ("session.cookie_secure", "1"),
        ("session.cookie_samesite", "Lax"),
        ("expose_php", ""),
    ],
)
def test_fpm_ini_values(host, name, value):
    assert probe(host)["ini"][name] == value


def test_session_id_strength(host, php):
    # Set up to PHP 8.3 (SecurityAudit.php wants >= 32 characters of >= 5 bits); PHP 8.4 fixed
    # and deprecated both, so the role leaves them alone there.
    ini = probe(host)["ini"]
    if php == "8.2":
        assert (ini["session.sid_length"], ini["session.sid_bits_per_character"]) == ("32", "5")
    else:
        assert ini["session.sid_length"] == "32"


def test_misp_extensions_loaded(host):
    extensions = probe(host)["extensions"]
    assert [name for name, loaded in extensions.items() if not loaded] == []


def test_cli_has_the_same_values(host):
    # MISP's workers and cake shell run under the CLI; the Diagnostics page checks it too.
    out = host.check_output(
        'php -r \'echo ini_get("memory_limit"), " ", ini_get("date.timezone"), " ", (int) extension_loaded("redis");\''
    )
    assert out == "2048M Europe/Rome 1"


def test_misp_routing_and_api_key_reach_php(host):
    # MISP's rewrite rules (no .htaccess read) send unknown paths to index.php, and
    # CGIPassAuth hands the Authorization header (MISP's API key) to PHP.
    data = probe(host, "/users/view/me?x=1", "-H 'Authorization: testkey'")
    assert data["request_uri"] == "/users/view/me?x=1"
    assert data["authorization"] == "testkey"
