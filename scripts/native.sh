#!/usr/bin/env bash
# Compiles the intent parser with mypyc (see setup.py); `make native` runs it, and
# `make test` and `make demo` through it when a parser source changed.
#   GRUMP_MYPYC=0   skip it: the parser runs as plain Python, with the same results
# Without a C compiler it warns and leaves plain Python, except under CI=true, where
# the figures the project reports must be those of the compiled parser.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
LOG=build/native.log

remove_compiled() {
  rm -f grump/intent/*.so
}

mkdir -p build
remove_compiled
if [ "${GRUMP_MYPYC:-1}" = "0" ]; then
  echo "GRUMP_MYPYC=0: the intent parser runs as plain Python"
  exit 0
fi
echo "== compiling the intent parser (mypyc)"
if ! GRUMP_MYPYC=1 $BIN/python setup.py build_ext --inplace >"$LOG" 2>&1; then
  remove_compiled
  if [ "${CI:-}" = "true" ]; then
    cat "$LOG" >&2
    echo "error: the intent parser did not compile (log above)" >&2
    exit 1
  fi
  echo "warning: the intent parser did not compile (see $LOG); it runs as plain Python" >&2
  exit 0
fi
# build_ext copies a module it did not need to rebuild with its old time; the build is
# current now (grump.intent.native.stale_modules compares these times with the sources).
touch grump/intent/*.so
