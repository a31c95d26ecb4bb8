"""chrony clients on Debian 12 and 13: a real NTP exchange with the server container."""

import time

testinfra_hosts = ["chrony-bookworm", "chrony-trixie"]


def test_chrony_enabled_and_running(host):
    service = host.service("chrony")
    assert service.is_enabled
    assert service.is_running


def test_never_steers_the_shared_clock(host):
    assert "-x" in host.check_output("ps -o args= -C chronyd").split()
    assert 'DAEMON_OPTS="-F 1 -x"' in host.file("/etc/default/chrony").content_string


def test_only_the_configured_server(host):
    conf = host.file("/etc/chrony/chrony.conf").content_string
    assert "server ntp-server iburst" in conf
    assert "pool " not in conf
    assert "makestep 1.0 3" in conf


def test_synchronises_with_the_server(host):
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
    # The server runs at local stratum 8, so a synchronised client is at 9.
    assert "Stratum         : 9" in tracking, tracking
    assert "Leap status     : Normal" in tracking, tracking


def test_uses_the_configured_zone(host):
    assert host.check_output("timedatectl show -p Timezone --value") == "Europe/Rome"
    assert host.file("/etc/localtime").linked_to.endswith("/zoneinfo/Europe/Rome")
