#!/usr/bin/env bash
# Checks docker-compose.yml and smoke-tests the images `make images` built
# (`make images-smoke`):
#
# 1. docker-compose.yml against the Compose specification's JSON schema, offline:
#    check-jsonschema ships the schema (vendor.compose-spec), pinned here so the
#    schema does not change under the check. A copy with a service key misspelt must
#    fail, or the validator is not looking.
# 2. scripts/images_smoke/: compose's grump services run from the images with
#    buildah against this machine's Redis and PostgreSQL (its docstring says what it
#    checks).
#
# Both run on a small virtualenv of their own in build/images/tools.
#   GRUMP_IMAGE_TAG            the images' tag (default: latest)
#   GRUMP_SMOKE_POSTGRES_URL   a database URL allowed to create databases
#                              (default: postgresql://postgres@127.0.0.1:5432/postgres)
#   GRUMP_SMOKE_REDIS          host:port of Redis (default: 127.0.0.1:6379)
#   GRUMP_SMOKE_REDIS_DBS      the run's two Redis db numbers, flushed before and after (default: 9,10)
#   GRUMP_SMOKE_HOLD_SECONDS   on a failure, keep the programs running this long to look at them
set -euo pipefail
cd "$(dirname "$0")/.."

TOOLS_SPEC="check-jsonschema==0.39.0 PyYAML>=6,<7"
TOOLS="build/images/tools-$(echo "$TOOLS_SPEC" | cksum | cut -d' ' -f1)"

log() { printf 'smoke: %s\n' "$*" >&2; }

if [ ! -x "$TOOLS/bin/check-jsonschema" ]; then
    log "tools: $TOOLS_SPEC"
    rm -rf "$TOOLS"
    python3 -m venv "$TOOLS"
    # shellcheck disable=SC2086  # the spec is a list of requirements
    "$TOOLS/bin/pip" install --disable-pip-version-check $TOOLS_SPEC >"$TOOLS.log" 2>&1 || {
        cat "$TOOLS.log" >&2
        rm -rf "$TOOLS"
        exit 1
    }
fi

echo "== docker-compose.yml against the Compose specification"
"$TOOLS/bin/check-jsonschema" --builtin-schema vendor.compose-spec docker-compose.yml
broken="$TOOLS/compose-misspelt.yml"
sed 's/^    command: \["migrate"\]/    comand: ["migrate"]/' docker-compose.yml >"$broken"
if cmp -s docker-compose.yml "$broken" \
    || "$TOOLS/bin/check-jsonschema" --builtin-schema vendor.compose-spec "$broken" >/dev/null 2>&1; then
    log "the schema check passed a docker-compose.yml with a misspelt key: it checks nothing"
    exit 1
fi

echo "== the images, run with buildah against this machine's Redis and PostgreSQL"
bash scripts/services.sh
exec "$TOOLS/bin/python" -m scripts.images_smoke "$@"
