"""Redis: loopback only, protected mode, refuses clients without the stored password."""

PASSWORD_FILE = "/root/.misp/redis_password"


def test_redis_enabled_and_running(host):
    service = host.service("redis-server")
    assert service.is_enabled
    assert service.is_running


def test_listens_on_loopback_only(host):
    listeners = host.check_output("ss -Hltn 'sport = :6379' | awk '{print $4}'").split()
    assert listeners
    assert all(addr.startswith(("127.0.0.1:", "[::1]:")) for addr in listeners), listeners


def test_non_loopback_clients_cannot_connect(host):
    address = host.check_output("hostname -I").split()[0]
    result = host.run(f"redis-cli -h {address} -p 6379 ping")
    assert "Connection refused" in (result.stdout + result.stderr)


def test_refuses_unauthenticated_clients(host):
    assert "NOAUTH" in host.check_output("redis-cli -h 127.0.0.1 ping 2>&1")
    assert "NOAUTH" in host.check_output("redis-cli -h 127.0.0.1 get misp:live 2>&1")


def test_refuses_a_wrong_password(host):
    out = host.check_output("REDISCLI_AUTH=wrong-password redis-cli -h 127.0.0.1 ping 2>&1")
    assert "WRONGPASS" in out or "invalid password" in out


def test_stored_password_works(host):
    out = host.check_output(f"REDISCLI_AUTH=$(cat {PASSWORD_FILE}) redis-cli -h 127.0.0.1 ping")
    assert out == "PONG"
    mode = host.check_output(f"REDISCLI_AUTH=$(cat {PASSWORD_FILE}) redis-cli -h 127.0.0.1 config get protected-mode")
    assert mode.split() == ["protected-mode", "yes"]


def test_password_kept_root_only(host):
    secrets = host.file("/root/.misp")
    assert secrets.user == "root" and secrets.mode == 0o700
    password = host.file(PASSWORD_FILE)
    assert password.user == "root" and password.mode == 0o600
    assert len(password.content_string.strip()) >= 32
    auth = host.file("/etc/redis/misp-auth.conf")
    assert auth.user == "redis" and auth.mode == 0o640
