"""A real MISP converged from the offline bundle: web, API, configuration, identity kept."""

import json

from misp_verify import CURL, admin_key_sha256, misp_config, misp_uuid, run_pymisp

testinfra_hosts = ["misp"]
URL = "https://misp"


def pymisp(host, admin_key, code):
    """Run PyMISP, the independent client, on the MISP host against its public URL."""
    return run_pymisp(host, URL, code, admin_key)


def test_login_page_over_https(host):
    page = host.check_output(f"{CURL} https://misp/users/login")
    assert 'id="UserLoginForm"' in page


def test_http_redirects_to_https(host):
    location = host.check_output("curl -s -o /dev/null -w '%{redirect_url}' http://misp/users/login")
    assert location.startswith("https://misp/")


def test_api_key_works_and_names_the_admin(host, admin_key):
    me = pymisp(host, admin_key, "print(json.dumps(misp.get_user('me', pythonify=False)))")
    assert me["User"]["email"] == "admin@admin.test"
    assert me["User"]["role_id"] == "1" or me["User"]["role_id"] == 1


def test_host_organisation_has_the_inventory_identity(host, admin_key):
    org = pymisp(host, admin_key, "print(json.dumps(misp.get_organisation(1, pythonify=False)))")
    assert org["Organisation"]["name"] == "CERT-Test"
    assert org["Organisation"]["uuid"] == "5f6e7d8c-1b2a-4c3d-9e8f-0a1b2c3d4e5f"


def test_version_is_the_bundle(host, admin_key):
    version = pymisp(host, admin_key, "print(json.dumps(misp.misp_instance_version))")
    bundle = json.loads(host.check_output("cat /var/www/MISP/bundle.json"))
    assert version["version"] == bundle["misp_version"]


def test_config_lint_has_no_critical_findings(host):
    lint = host.run("runuser -u www-data -- /var/www/MISP/app/Console/cake Admin configLint")
    assert lint.rc == 0, lint.stdout + lint.stderr
    assert "critical" not in lint.stdout.lower(), lint.stdout


def test_live_and_settings_from_the_inventory(host):
    config = misp_config(host)
    assert config["MISP"]["live"] is True
    assert config["MISP"]["showorg"] is True
    assert int(config["Security"]["password_policy_length"]) == 14
    assert config["MISP"]["python_bin"] == "/var/www/MISP/venv/bin/python"


def test_identity_unchanged_by_the_second_converge(host):
    first_uuid, first_key_sha = host.check_output("cat /root/first-converge.txt").split()
    uuid = misp_uuid(host)
    assert len(first_uuid) == 36
    assert uuid == first_uuid
    assert admin_key_sha256(host) == first_key_sha


def test_secrets_are_root_only(host):
    for name in ("admin_password", "admin_api_key", "encryption_key"):
        secret = host.file(f"/root/.misp/{name}")
        assert secret.user == "root"
        assert secret.mode == 0o600


def test_schema_loaded_once(host):
    tables = host.check_output(
        "mysql -N -B -e \"SELECT COUNT(*) FROM information_schema.tables WHERE table_schema='misp'\""
    )
    assert int(tables) > 50
    admins = host.check_output("mysql -N -B misp -e 'SELECT COUNT(*) FROM users'")
    assert int(admins) == 1
