"""The NTP server host: chrony serving its clock to the network, default zone."""

testinfra_hosts = ["ntp-server"]


def test_chrony_enabled_and_running(host):
    service = host.service("chrony")
    assert service.is_enabled
    assert service.is_running


def test_serves_the_network_from_its_local_clock(host):
    conf = host.file("/etc/chrony/chrony.conf").content_string
    assert "allow 0.0.0.0/0" in conf
    assert "local stratum 8" in conf
    assert "pool " not in conf
    assert host.socket("udp://0.0.0.0:123").is_listening


def test_never_steers_the_shared_clock(host):
    assert "-x" in host.check_output("ps -o args= -C chronyd").split()


def test_keeps_the_default_zone(host):
    assert host.check_output("timedatectl show -p Timezone --value") == "Etc/UTC"
