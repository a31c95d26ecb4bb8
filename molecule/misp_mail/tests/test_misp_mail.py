"""misp-mail relays through smtp-sink with SASL and verified STARTTLS; the test reads the mail at the sink."""

import os
import time
import uuid

import pytest
import testinfra

testinfra_hosts = ["misp-mail"]

MAILDIR = "/var/mail/vhosts/sink.test"


@pytest.fixture(scope="module")
def sink():
    return testinfra.get_host("ansible://smtp-sink", ansible_inventory=os.environ["MOLECULE_INVENTORY_FILE"])


def send(host, recipient, subject):
    message = f"To: {recipient}\nSubject: {subject}\n\nSent by molecule/misp_mail.\n"
    host.run_expect([0], f"printf %s {quote(message)} | /usr/sbin/sendmail -i {quote(recipient)}")


def quote(text):
    return "'" + text.replace("'", "'\\''") + "'"


def wait_for_mail(sink, mailbox, subject, timeout=30):
    """Poll the sink's Maildir until the message with this subject arrives; return its text."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = sink.run(f"grep -rlF {quote('Subject: ' + subject)} {MAILDIR}/{mailbox}/new")
        if found.rc == 0 and found.stdout.strip():
            return sink.file(found.stdout.split()[0]).content_string
        time.sleep(1)
    queue = sink.run("postqueue -p").stdout
    log = sink.run("tail -n 30 /var/log/postfix.log").stdout
    pytest.fail(f"'{subject}' did not reach {mailbox}@sink.test in {timeout} s\nqueue:\n{queue}\nlog:\n{log}")


def keep(message):
    """Leave the delivered message next to the scenario's log, as evidence for the report."""
    artifacts = os.environ.get("MISP_TEST_ARTIFACTS", "/tmp/misp-ansible-molecule")
    os.makedirs(artifacts, exist_ok=True)
    with open(os.path.join(artifacts, "misp_mail-delivered.eml"), "w") as handle:
        handle.write(message)


def headers(message):
    return message.split("\n\n", 1)[0].replace("\n\t", " ").replace("\n ", " ")


def test_relayed_mail_arrives_authenticated_over_tls(host, sink):
    subject = f"misp-mail relay {uuid.uuid4()}"
    send(host, "analyst@sink.test", subject)
    message = wait_for_mail(sink, "analyst", subject)
    keep(message)
    received = headers(message)
    # ESMTPSA = ESMTP over TLS (S) with SASL authentication (A).
    assert "by smtp-sink (Postfix) with ESMTPSA" in received, received
    assert "(Authenticated sender: misp-relay)" in received, received
    assert "(using TLSv1." in received, received
    # The relay's own log: the login on the submission port.
    assert sink.run_expect([0], "grep -F 'sasl_method=PLAIN, sasl_username=misp-relay' /var/log/postfix.log")


def test_relay_certificate_is_verified(host):
    # Only after a successful relay (previous test): Postfix logs the trust level of each TLS session.
    log = host.check_output("journalctl --no-pager -o cat SYSLOG_IDENTIFIER=postfix/smtp")
    assert "Verified TLS connection established to smtp-sink" in log, log


def test_local_mail_leaves_as_the_configured_sender(host, sink):
    subject = f"misp-mail sender {uuid.uuid4()}"
    send(host, "analyst@sink.test", subject)
    message = wait_for_mail(sink, "analyst", subject)
    assert "Return-Path: <misp@example.test>" in headers(message)


@pytest.mark.parametrize("account", ["root", "www-data"])
def test_local_accounts_reach_the_operator(host, sink, account):
    subject = f"misp-mail alias {account} {uuid.uuid4()}"
    send(host, account, subject)
    message = wait_for_mail(sink, "operator", subject)
    assert f"To: {account}" in headers(message)


def test_listens_on_loopback_only(host):
    listeners = host.check_output("ss -Hltn 'sport = :25'").splitlines()
    addresses = [line.split()[3].rsplit(":", 1)[0] for line in listeners]
    assert "127.0.0.1" in addresses, listeners
    assert set(addresses) <= {"127.0.0.1", "[::1]"}, listeners


def test_not_reachable_from_the_network(sink):
    assert sink.run("timeout 5 bash -c '</dev/tcp/misp-mail/25'").rc != 0


def test_sasl_password_table_is_root_only(host):
    for path in ("/etc/postfix/sasl/sasl_passwd", "/etc/postfix/sasl/sasl_passwd.db"):
        table = host.file(path)
        assert table.is_file, path
        assert (table.user, table.group, table.mode) == ("root", "root", 0o600), path
    assert host.file("/etc/postfix/sasl").mode == 0o700
    assert "relay-test-only" not in host.file("/etc/postfix/main.cf").content_string


def test_configuration(host):
    settings = dict(line.split(" = ", 1) for line in host.check_output("postconf -n").splitlines() if " = " in line)
    assert settings["relayhost"] == "[smtp-sink]:587"
    assert settings["smtp_tls_security_level"] == "verify"
    assert settings["smtp_tls_CAfile"] == "/etc/ssl/misp-test/smtp-sink-ca.pem"
    assert settings["inet_interfaces"] == "loopback-only"
    assert settings["myhostname"] == "misp-mail.example.test"
    assert settings["smtp_sasl_auth_enable"] == "yes"
    assert settings["message_size_limit"] == "26214400"
    # postfix check: ownership, permissions and configuration of the whole installation.
    check = host.run("postfix check")
    assert check.rc == 0 and not check.stderr.strip(), check.stderr


def test_postfix_enabled_and_running(host):
    service = host.service("postfix")
    assert service.is_enabled
    assert service.is_running
