#!/usr/bin/env bash
# Builds the local Debian systemd images the test hosts run from, with debootstrap (no
# container registry is reachable). An image is rebuilt only when this recipe changes:
# its label misp-ansible.recipe holds the recipe's hash.
# Usage: tests/image/build.sh bookworm [trixie ...]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# The host's extra CAs (a TLS-inspecting egress proxy, say) go into the image so its hosts
# reach PyPI as the host does; a changed CA changes the recipe and rebuilds the image.
host_cas=(/usr/local/share/ca-certificates/*.crt)
[ -e "${host_cas[0]}" ] || host_cas=()
recipe_hash=$(cat "$here/build.sh" "$here/Dockerfile" "${host_cas[@]}" | sha256sum | cut -c1-16)
packages=systemd,systemd-sysv,dbus,python3,python3-apt,sudo,iproute2,ca-certificates,procps,curl,gnupg

host_mirror() {
  local uri
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  [ -n "$uri" ] || uri=$(awk '/^deb / {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

write_sources() {
  local root="$1" suite="$2" mirror="$3"
  rm -f "$root/etc/apt/sources.list"
  cat >"$root/etc/apt/sources.list.d/debian.sources" <<SOURCES
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${mirror%/debian}/debian-security
Suites: $suite-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SOURCES
}

build_one() {
  local suite="$1" image="misp-ansible/debian:$1"
  if [ "$(docker image inspect -f '{{ index .Config.Labels "misp-ansible.recipe" }}' "$image" 2>/dev/null)" = "$recipe_hash" ]; then
    echo "[image] $image is current (recipe $recipe_hash)"
    return 0
  fi
  local root mirror started=$SECONDS
  root=$(mktemp -d /var/tmp/rootfs-"$suite".XXXXXX)
  mirror=$(host_mirror)
  echo "[image] debootstrap $suite from $mirror"
  debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >"$root.log" 2>&1 ||
    { tail -20 "$root.log"; return 1; }
  write_sources "$root" "$suite" "$mirror"
  # Units that make no sense in a test container, or that would run apt behind our back.
  local unit
  for unit in apt-daily.timer apt-daily-upgrade.timer getty.target console-getty.service \
    systemd-udevd.service systemd-udev-trigger.service systemd-firstboot.service; do
    ln -sf /dev/null "$root/etc/systemd/system/$unit"
  done
  : >"$root/etc/machine-id"
  if ((${#host_cas[@]})); then
    cp "${host_cas[@]}" "$root/usr/local/share/ca-certificates/"
    chroot "$root" update-ca-certificates >/dev/null 2>&1
    # pip inside the test hosts trusts the system store, as the host's pip does.
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
  fi
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb
  # An old mtime makes Ansible's cache_valid_time run apt-get update on first use.
  touch -d @0 "$root/var/lib/apt/lists"
  tar -C "$root" -c . | docker import --change 'ENV container=docker' \
    --change 'CMD ["/lib/systemd/systemd"]' - "$image-rootfs" >/dev/null
  docker build -q --build-arg BASE="$image-rootfs" --label "misp-ansible.recipe=$recipe_hash" \
    -t "$image" "$here" >/dev/null
  docker rmi "$image-rootfs" >/dev/null
  rm -rf "$root" "$root.log"
  echo "[image] built $image in $((SECONDS - started)) s"
}

# Suites build side by side: debootstrap mostly waits on the mirror and on dpkg.
pids=()
for suite in "${@:-bookworm}"; do
  build_one "$suite" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
exit "$status"
