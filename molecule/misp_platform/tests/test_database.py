"""MariaDB: root by unix socket only, MISP's account works with its stored password, no leftovers."""

PASSWORD_FILE = "/root/.misp/db_password"


def sql(host, query, *args):
    return host.check_output(f'mariadb --batch --skip-column-names {" ".join(args)} -e "{query}"')


def test_mariadb_enabled_and_running(host):
    service = host.service("mariadb")
    assert service.is_enabled
    assert service.is_running


def test_listens_on_loopback_only(host):
    listeners = host.check_output("ss -Hltn 'sport = :3306' | awk '{print $4}'").split()
    assert listeners == ["127.0.0.1:3306"]


def test_root_works_over_the_socket(host):
    assert sql(host, "SELECT CURRENT_USER()") == "root@localhost"


def test_root_refuses_password_login_over_tcp(host):
    for password in ("", "-pinvalid", "-proot"):
        result = host.run(f"mariadb -h 127.0.0.1 -u root {password} -e 'SELECT 1'")
        assert result.rc != 0
        assert "Access denied" in result.stderr


def test_misp_account_connects_with_its_stored_password(host):
    out = host.check_output(
        f"MYSQL_PWD=$(cat {PASSWORD_FILE}) mariadb -h 127.0.0.1 -u misp misp --batch --skip-column-names"
        " -e 'SELECT CURRENT_USER(), DATABASE()'"
    )
    assert out.split() == ["misp@localhost", "misp"]
    result = host.run("MYSQL_PWD=wrong mariadb -h 127.0.0.1 -u misp misp -e 'SELECT 1'")
    assert result.rc != 0


def test_misp_account_sees_only_its_database(host):
    out = host.check_output(
        f"MYSQL_PWD=$(cat {PASSWORD_FILE}) mariadb -h 127.0.0.1 -u misp --batch --skip-column-names -e 'SHOW DATABASES'"
    )
    assert set(out.split()) == {"information_schema", "misp"}


def test_no_anonymous_accounts_nor_test_database(host):
    assert sql(host, "SELECT COUNT(*) FROM mysql.global_priv WHERE User = ''") == "0"
    assert sql(host, "SELECT COUNT(*) FROM mysql.global_priv WHERE User = 'root' AND Host <> 'localhost'") == "0"
    assert sql(host, "SHOW DATABASES LIKE 'test%'") == ""
    assert sql(host, "SELECT COUNT(*) FROM mysql.db WHERE Db LIKE 'test%'") == "0"


def test_time_zone_follows_time_sync(host):
    assert sql(host, "SELECT @@global.time_zone") == "Europe/Rome"


def test_buffer_pool_sized_from_memory(host):
    # 2 % of the host's memory (the scenario's fraction), not MariaDB's 128 MiB default.
    mem_kib = int(host.check_output("awk '/MemTotal/ {print $2}' /proc/meminfo"))
    expected = max(128, int(mem_kib // 1024 * 0.02)) * 1024 * 1024
    actual = int(sql(host, "SELECT @@innodb_buffer_pool_size"))
    # MariaDB rounds the size up to a multiple of its chunk size.
    assert expected <= actual < expected + 128 * 1024 * 1024


def test_password_kept_root_only(host):
    password = host.file(PASSWORD_FILE)
    assert password.user == "root" and password.mode == 0o600
    assert len(password.content_string.strip()) >= 32
