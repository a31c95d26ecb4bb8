#!/usr/bin/env bash
# Installs and starts a Docker engine able to run privileged systemd containers.
# Sourced by tests/run and tests/testhost; idempotent, so a second call costs a second.
set -euo pipefail

engine_log() { printf '[engine] %s\n' "$*" >&2; }

engine_install() {
  local missing=()
  command -v dockerd >/dev/null 2>&1 || missing+=(docker.io)
  command -v jq >/dev/null 2>&1 || missing+=(jq)
  command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
  if ((${#missing[@]})); then
    engine_log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

engine_wait() {
  local i
  for i in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  engine_log "dockerd did not answer within 60 s; see /var/log/dockerd.log"
  return 1
}

engine_start() {
  docker info >/dev/null 2>&1 && return 0
  mkdir -p /etc/docker
  if [ ! -f /etc/docker/daemon.json ]; then
    # MTU 1400 matches the VM's network; a larger one stalls apt inside containers.
    echo '{"mtu": 1400}' >/etc/docker/daemon.json
  fi
  engine_log "starting dockerd"
  (setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &)
  engine_wait
}

# Some VMs lack CAP_SYS_RESOURCE in their bounding set, so `docker run --privileged`
# fails with "unable to apply caps". Only then, install a runc wrapper that drops that
# capability from the OCI spec; a laptop whose Docker works is left alone.
engine_fix_privileged() {
  local probe_image="$1"
  if docker run --rm --privileged --entrypoint /bin/true "$probe_image" >/dev/null 2>&1; then
    return 0
  fi
  engine_log "privileged containers fail here; installing the runc wrapper"
  install -m 0755 "$(dirname "${BASH_SOURCE[0]}")/runc-drop-sys-resource" /usr/local/sbin/runc-drop-sys-resource
  jq '. + {"runtimes": {"runc-nosysres": {"path": "/usr/local/sbin/runc-drop-sys-resource"}},
           "default-runtime": "runc-nosysres"}' /etc/docker/daemon.json >/etc/docker/daemon.json.new
  mv /etc/docker/daemon.json.new /etc/docker/daemon.json
  pkill dockerd || true
  local i
  for i in $(seq 1 30); do pgrep -x dockerd >/dev/null || break; sleep 1; done
  (setsid nohup dockerd >/var/log/dockerd.log 2>&1 </dev/null &)
  engine_wait
  docker run --rm --privileged --entrypoint /bin/true "$probe_image" >/dev/null
}
