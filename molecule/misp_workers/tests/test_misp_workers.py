"""supervisor runs a program per MISP queue (with the stand-in cake), XML-RPC on loopback with a password,
and the health check restarted what side_effect.yml broke."""

import json
import re

import pytest

WANTED = {"default": 3, "prio": 2, "email": 2, "cache": 2, "update": 1, "scheduler": 1}
RPC = "<?xml version='1.0'?><methodCall><methodName>supervisor.getState</methodName></methodCall>"


def processes(host):
    """{name: state} of group misp-workers, from supervisor's unix socket."""
    out = host.run("supervisorctl status 'misp-workers:*'").stdout
    found = re.findall(r"^misp-workers:(\S+)\s+([A-Z]+)", out, re.M)
    return dict(found)


def test_supervisor_enabled_and_running(host):
    service = host.service("supervisor")
    assert service.is_enabled
    assert service.is_running


def test_a_program_per_queue_with_its_count(host):
    names = processes(host)
    per_queue = {}
    for name in names:
        queue = name.split("_")[0]
        per_queue[queue] = per_queue.get(queue, 0) + 1
    assert per_queue == WANTED


def test_every_worker_running(host):
    states = processes(host)
    assert states and set(states.values()) == {"RUNNING"}, states


def test_workers_run_cake_as_www_data(host):
    conf = host.file("/etc/supervisor/conf.d/misp-workers.conf").content_string
    programs = re.search(r"^programs=(\S+)$", conf, re.M).group(1).split(",")
    assert sorted(programs) == sorted(WANTED)
    for queue in ("default", "prio", "email", "cache", "update"):
        assert f"command=/var/www/MISP/app/Console/cake start_worker {queue}\n" in conf
    assert "command=/var/www/MISP/app/Console/cake scheduler_worker\n" in conf
    users = host.check_output("ps -o user= -C sleep").split()
    assert len(users) == sum(WANTED.values())
    assert set(users) == {"www-data"}
    log = host.file("/var/www/MISP/app/tmp/logs/misp-workers.log").content_string
    assert "fake cake: start_worker email as www-data" in log


@pytest.fixture(scope="module")
def password(host):
    return host.check_output("cat /root/.misp/supervisor_password")


def rpc(host, credentials=None, address="127.0.0.1"):
    user = f"-u {credentials} " if credentials else ""
    return host.run(
        f"curl -s -o /dev/null -w '%{{http_code}}' {user}-H 'Content-Type: text/xml' "
        f'--data "{RPC}" http://{address}:9001/RPC2'
    ).stdout


def test_xmlrpc_answers_with_the_password(host, password):
    assert rpc(host, f"supervisor:{password}") == "200"
    body = host.check_output(f'curl -s -u supervisor:{password} --data "{RPC}" http://127.0.0.1:9001/RPC2')
    assert "<string>RUNNING</string>" in body


def test_xmlrpc_refuses_without_the_password(host):
    assert rpc(host) == "401"
    assert rpc(host, "supervisor:wrong-password") == "401"


def test_xmlrpc_on_loopback_only(host):
    listeners = host.check_output("ss -Hltn 'sport = :9001'").splitlines()
    assert [line.split()[3] for line in listeners] == ["127.0.0.1:9001"]
    outside = host.check_output("hostname -I").split()[0]
    assert rpc(host, address=outside) == "000"


def test_password_kept_root_only(host, password):
    secret = host.file("/root/.misp/supervisor_password")
    assert (secret.user, secret.group, secret.mode) == ("root", "root", 0o600)
    assert len(password) >= 32
    conf = host.file("/etc/supervisor/conf.d/misp-xmlrpc.conf")
    assert (conf.user, conf.mode) == ("root", 0o600)
    assert password not in conf.content_string
    assert "password={SHA}" in conf.content_string


def test_health_check_restarted_the_broken_workers(host):
    report = json.loads(host.file("/var/tmp/misp-workers-health.json").content_string)
    # side_effect.yml stopped both email workers (a queue with no live worker) and took prio_00 to FATAL.
    assert report["queues_without_live_worker"] == ["email"]
    assert sorted(report["dead_workers"]) == ["email_00", "email_01", "prio_00"]
    assert sorted(report["restarted"]) == ["email_00", "email_01", "prio_00"]
    assert report["still_dead"] == []
    assert report["supervisor_started"] is False
    assert report["queues"]["email"] == 0 and report["queues"]["prio"] == 1
