#!/usr/bin/env bash
# Everything the tests and the test host need on a fresh Debian machine with only Python
# and apt: the pinned Python tools in a venv, a running Docker engine, the local images.
# Each step is skipped when already done, so a second run starts in seconds.
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CACHE_DIR=${MISP_ANSIBLE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/misp-ansible}
# shellcheck source=tests/lib/engine.sh
source "$REPO_ROOT/tests/lib/engine.sh"

# The venv lives outside the clone, keyed by the pinned requirements, so fresh clones reuse it.
setup_venv() {
  local key venv
  key=$(sha256sum "$REPO_ROOT/requirements-dev.txt" | cut -c1-12)
  venv="$CACHE_DIR/venv-$key"
  if [ ! -x "$venv/bin/molecule" ]; then
    echo "[setup] creating $venv"
    mkdir -p "$CACHE_DIR"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$REPO_ROOT/requirements-dev.txt"
  fi
  export VIRTUAL_ENV="$venv"
  export PATH="$venv/bin:$PATH"
}

setup_engine() {
  engine_install
  engine_start
}

setup_images() {
  "$REPO_ROOT/tests/image/build.sh" "$@"
  engine_fix_privileged "misp-ansible/debian:$1"
}
