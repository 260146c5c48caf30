#!/usr/bin/env bash
# The test command (`make test`): lint, types, then the three tiers of tests.
# pytest runs on two worker processes (pytest-xdist; CI's machine has two cores), each
# with a Redis database of its own (tests/services.py). An idle worker takes tests
# queued for the other (worksteal): the end-to-end tests, collected first, take
# minutes each and would otherwise all wait on one worker. Arguments go to pytest:
# `scripts/test.sh -n 0` runs it in one process; `-n 4` runs it on four, which needs
# GRUMP_TEST_REDIS_URL at database 12 or below (Redis has databases 0-15).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PATHS=(grump workers beat tests bench setup.py)

# The offline ops tools are mostly downloads: they install while ruff and mypy use the CPU.
ops_tools=""
if [ -f scripts/ops-tools.sh ]; then
  mkdir -p build
  bash scripts/ops-tools.sh >build/ops-tools.log 2>&1 &
  ops_tools=$!
  # Never leave an install (apt-get) running when a check below fails.
  trap 'if [ -n "$ops_tools" ]; then wait "$ops_tools" || true; fi' EXIT
fi

echo "== ruff"
$BIN/ruff check "${PATHS[@]}"
$BIN/ruff format --check "${PATHS[@]}"
echo "== mypy --strict grump"
$BIN/mypy grump
bash scripts/services.sh
if [ -n "$ops_tools" ]; then
  echo "== offline ops tools (helm, promtool)"
  status=0
  wait "$ops_tools" || status=$?
  ops_tools=""
  cat build/ops-tools.log
  if [ "$status" != 0 ]; then exit "$status"; fi
fi
echo "== pytest"
PATH="$PWD/.tools/bin:$PATH" $BIN/pytest -p no:cacheprovider -q -n 2 --dist worksteal "$@"
