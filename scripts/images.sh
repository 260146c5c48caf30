#!/usr/bin/env bash
# Builds grump's two images with buildah, without a Docker daemon and without pulling
# a base image (`make images`):
#
#   grump:$GRUMP_IMAGE_TAG       Dockerfile.worker  the API, cpu and llm workers, beat, Flower, migrate
#   grump-gpu:$GRUMP_IMAGE_TAG   Dockerfile.gpu     the gpu worker
#
# Neither the official Python base nor the CUDA base can be pulled on these machines,
# so both Dockerfiles get a stand-in base through their own build arguments
# (PYTHON_IMAGE, CUDA_IMAGE): Debian bookworm made with debootstrap, with python3,
# python3-dev, python3-venv, python3-pip, a `python` link and this machine's trust
# store (the package registries are reached through it). The GPU image on it checks
# the Dockerfile's steps, not CUDA. With Docker and registry access the Dockerfiles
# build on their real bases unchanged: `docker build -f Dockerfile.worker .`.
#
# The base is cached, keyed by everything it is made from (this recipe, the suite,
# the mirror, the packages, the trust store): as the image localhost/grump-base:KEY in
# buildah's storage and as a root file system tarball in $GRUMP_IMAGES_CACHE. Image
# layers are cached by buildah (--layers), so a rebuild after a source change only
# reinstalls grump, not its dependencies.
#
#   GRUMP_IMAGE_TAG      tag of both images (default: latest, as docker-compose.yml names them)
#   GRUMP_IMAGES_CACHE   where the base tarball is kept (default: build/images)
#   GRUMP_DEBIAN_MIRROR  Debian mirror for debootstrap (default: http://deb.debian.org/debian)
#
# Usage: scripts/images.sh [worker|gpu]...   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."

TAG="${GRUMP_IMAGE_TAG:-latest}"
CACHE="${GRUMP_IMAGES_CACHE:-build/images}"
SUITE=bookworm
MIRROR="${GRUMP_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES="python3,python3-dev,python3-venv,python3-pip"
TRUST_STORE=/etc/ssl/certs/ca-certificates.crt
# No daemon, no user namespaces: plain chroot isolation and the host's network.
BUILDAH_RUN_OPTIONS=(--isolation chroot --network host)

log() { printf 'images: %s\n' "$*" >&2; }

ensure_tools() {
    local missing=()
    command -v buildah >/dev/null 2>&1 || missing+=(buildah)
    command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
    [ ${#missing[@]} -eq 0 ] && return
    if [ "$(id -u)" != 0 ]; then
        log "missing ${missing[*]}: install them (apt-get install ${missing[*]}) or run as root"
        exit 1
    fi
    log "installing ${missing[*]} (Debian packages)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The root file system of the stand-in base, made from scratch in $1.
make_base_rootfs() {
    local root="$1"
    debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$root" "$MIRROR" \
        >"$CACHE/debootstrap.log" 2>&1 || {
        tail -n 30 "$CACHE/debootstrap.log" >&2
        return 1
    }
    # The official image's `python` is Python 3; the Dockerfiles call it so.
    ln -sf python3 "$root/usr/bin/python"
    install -D -m 0644 "$TRUST_STORE" "$root/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/archives/*.deb "$root"/tmp/*
}

base_key() {
    {
        declare -f make_base_rootfs
        echo "$SUITE $MIRROR $PACKAGES"
        cat "$TRUST_STORE"
    } | sha256sum | cut -c1-16
}

# Prints the reference of the stand-in base, making it if no cache has it.
stand_in_base() {
    local key image tarball
    key="$(base_key)"
    image="localhost/grump-base:$key"
    tarball="$CACHE/base-$SUITE-$key.tar"
    if buildah inspect --type image "$image" >/dev/null 2>&1; then
        log "base $image: cached"
        echo "$image"
        return
    fi
    mkdir -p "$CACHE"
    if [ ! -s "$tarball" ]; then
        log "base: debootstrap $SUITE ($PACKAGES)"
        local root="$CACHE/rootfs-$key"
        rm -rf "$root"
        mkdir -p "$root"
        make_base_rootfs "$root"
        tar --numeric-owner -C "$root" -cf "$tarball.part" .
        mv "$tarball.part" "$tarball"
        rm -rf "$root"
        # Bases of earlier inputs are not used again.
        find "$CACHE" -maxdepth 1 -name 'base-*.tar' ! -name "${tarball##*/}" -delete
    else
        log "base: from $tarball"
    fi
    local container
    container="$(buildah from scratch)"
    buildah add --quiet "$container" "$tarball" / >/dev/null
    buildah config \
        --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 \
        --cmd python3 \
        --label "org.grump.stand-in-base=debootstrap $SUITE $PACKAGES" \
        "$container"
    buildah commit --quiet --rm "$container" "$image" >/dev/null
    log "base $image: made"
    echo "$image"
}

build_image() {
    local dockerfile="$1" name="$2" base_arg="$3" base="$4"
    local started=$SECONDS
    log "building $name:$TAG from $dockerfile on $base"
    buildah bud "${BUILDAH_RUN_OPTIONS[@]}" \
        --layers --pull=never --format docker \
        --build-arg "$base_arg=$base" \
        -f "$dockerfile" -t "$name:$TAG" . >"$CACHE/$name.log" 2>&1 || {
        tail -n 40 "$CACHE/$name.log" >&2
        log "$name: build failed (whole log: $CACHE/$name.log)"
        return 1
    }
    log "$name:$TAG built in $((SECONDS - started))s, $(image_size "$name:$TAG")"
}

image_size() {
    buildah images --format '{{.Size}}' "$1" | head -n 1
}

main() {
    local targets=("$@")
    [ ${#targets[@]} -gt 0 ] || targets=(worker gpu)
    ensure_tools
    mkdir -p "$CACHE"
    local started=$SECONDS base
    base="$(stand_in_base)"
    for target in "${targets[@]}"; do
        case "$target" in
            worker) build_image Dockerfile.worker grump PYTHON_IMAGE "$base" ;;
            # A CUDA base cannot be had here: the same Debian base stands in for it.
            gpu) build_image Dockerfile.gpu grump-gpu CUDA_IMAGE "$base" ;;
            *) log "unknown image $target (worker, gpu)"; exit 2 ;;
        esac
    done
    log "done in $((SECONDS - started))s"
}

main "$@"
