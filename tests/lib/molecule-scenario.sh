#!/usr/bin/env bash
# Runs one Molecule scenario and, beyond Molecule's own idempotence step, fails when the
# check-mode run on the converged host reports anything changed.
# Usage: tests/lib/molecule-scenario.sh SCENARIO
set -euo pipefail
scenario=$1
log_dir=${MOLECULE_LOG_DIR:-/tmp/misp-ansible-molecule}
mkdir -p "$log_dir"
log="$log_dir/$scenario.log"

status=0
ANSIBLE_FORCE_COLOR=0 PY_COLORS=0 NO_COLOR=1 molecule test -s "$scenario" >"$log" 2>&1 || status=$?
plain=$(sed 's/\x1b\[[0-9;]*m//g' "$log")
if [ "$status" -ne 0 ]; then
  echo "$plain" | tail -80
  echo "[molecule] $scenario FAILED (full log: $log)"
  exit "$status"
fi
# Molecule runs `check` (converge with --check) without judging its result.
check_changes=$(echo "$plain" | sed -n '/➜ check: Executing/,/➜ check: Executed/p' | grep -E 'changed=[1-9]' || true)
if [ -n "$check_changes" ]; then
  echo "$check_changes"
  echo "[molecule] $scenario: the check-mode run on the converged host reported changes (log: $log)"
  exit 1
fi
echo "$plain" | grep -E '^\s*│?\s*=+ .*(passed|failed|skipped).* in [0-9.]+s' | sed 's/^[ │]*/[molecule] verify: /' || true
echo "[molecule] $scenario passed"
