#!/usr/bin/env bash
# The test command (`make test`): lint, types, then the three tiers of tests.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
PATHS=(grump workers beat tests bench setup.py)

echo "== ruff"
$BIN/ruff check "${PATHS[@]}"
$BIN/ruff format --check "${PATHS[@]}"
echo "== mypy --strict grump"
$BIN/mypy grump
bash scripts/services.sh
if [ -f scripts/ops-tools.sh ]; then
  echo "== offline ops tools (helm, promtool)"
  bash scripts/ops-tools.sh
fi
echo "== pytest"
PATH="$PWD/.tools/bin:$PATH" $BIN/pytest -p no:cacheprovider -q "$@"
