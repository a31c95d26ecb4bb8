"""Behaviour of the time_sync role: real chrony peers talking NTP, zones, clock control off."""

import time

import pytest

CHRONY_CLIENTS = ["chrony-bookworm", "chrony-trixie"]
CLIENTS = [*CHRONY_CLIENTS, "timesyncd-bookworm"]
testinfra_hosts = ["ntp-server", *CLIENTS]


def name(host):
    return host.backend.get_hostname()


def test_chrony_enabled_and_running(host):
    if name(host) == "timesyncd-bookworm":
        pytest.skip("systemd-timesyncd host")
    service = host.service("chrony")
    assert service.is_enabled
    assert service.is_running


def test_chrony_never_steers_the_shared_clock(host):
    if name(host) == "timesyncd-bookworm":
        pytest.skip("systemd-timesyncd host")
    cmdline = host.check_output("cat /proc/$(pidof chronyd | cut -d' ' -f1)/cmdline | tr '\\0' ' '")
    assert " -x" in cmdline


def test_server_serves_its_clients(host):
    if name(host) != "ntp-server":
        pytest.skip("server only")
    conf = host.file("/etc/chrony/chrony.conf").content_string
    assert "allow 0.0.0.0/0" in conf
    assert "local stratum 8" in conf
    assert "pool 2.debian.pool.ntp.org" not in conf
    assert host.socket("udp://0.0.0.0:123").is_listening


@pytest.mark.parametrize("client", CHRONY_CLIENTS)
def test_client_synchronises_with_the_server(host, client):
    if name(host) != client:
        pytest.skip(f"{client} only")
    assert "server ntp-server iburst" in host.file("/etc/chrony/chrony.conf").content_string
    # chrony needs a few NTP exchanges before it selects a source (^*).
    deadline = time.monotonic() + 60
    sources = ""
    while time.monotonic() < deadline:
        sources = host.check_output("chronyc -n sources")
        if any(line.startswith("^*") for line in sources.splitlines()):
            break
        time.sleep(2)
    assert any(line.startswith("^*") for line in sources.splitlines()), sources
    tracking = host.check_output("chronyc tracking")
    assert "Stratum         : 9" in tracking, tracking
    assert "Leap status     : Normal" in tracking, tracking


def test_clients_use_the_configured_zone(host):
    if name(host) not in CLIENTS:
        pytest.skip("clients only")
    assert host.check_output("timedatectl show -p Timezone --value") == "Europe/Rome"
    assert host.file("/etc/localtime").linked_to.endswith("/zoneinfo/Europe/Rome")


def test_server_keeps_the_default_zone(host):
    if name(host) != "ntp-server":
        pytest.skip("server only")
    assert host.check_output("timedatectl show -p Timezone --value") == "Etc/UTC"


def test_timesyncd_configured_but_not_steering(host):
    if name(host) != "timesyncd-bookworm":
        pytest.skip("systemd-timesyncd host")
    conf = host.file("/etc/systemd/timesyncd.conf.d/ansible.conf").content_string
    assert "NTP=ntp-server" in conf
    assert "FallbackNTP=\n" in conf
    assert not host.package("chrony").is_installed
    service = host.service("systemd-timesyncd")
    assert not service.is_running
    assert not service.is_enabled
