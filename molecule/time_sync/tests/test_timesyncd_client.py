"""systemd-timesyncd: configured with the inventory's sources, never started with clock control off."""

testinfra_hosts = ["timesyncd-bookworm"]


def test_configured_sources_only(host):
    conf = host.file("/etc/systemd/timesyncd.conf.d/ansible.conf").content_string
    assert "NTP=ntp-server\n" in conf
    assert "FallbackNTP=\n" in conf


def test_chrony_absent(host):
    assert not host.package("chrony").is_installed
    assert host.package("systemd-timesyncd").is_installed


def test_not_steering_the_shared_clock(host):
    service = host.service("systemd-timesyncd")
    assert not service.is_running
    assert not service.is_enabled


def test_uses_the_configured_zone(host):
    assert host.check_output("timedatectl show -p Timezone --value") == "Europe/Rome"
