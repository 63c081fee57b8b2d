#!/usr/bin/env bash
# Build, from Debian packages, a stand-in for the official JupyterHub image (which cannot be pulled here).
# Usage: local/standin_base/build.sh [IMAGE_NAME]
#   default serverless-hub-standin-base:bookworm. The root file system is made once; step 2 always
#   runs, and its build cache makes it instant unless the Dockerfile changed.
set -euo pipefail

image=${1:-serverless-hub-standin-base:bookworm}
rootfs_image=${ROOTFS_IMAGE:-serverless-hub-standin-rootfs:bookworm}
# The Debian mirror this machine's own apt uses (its first URIs: line, or a deb line), unless set.
apt_mirror() {
    sed -n 's#^URIs:[[:space:]]*\([^[:space:]]*\).*#\1#p' /etc/apt/sources.list.d/*.sources 2>/dev/null || true
    sed -n 's#^deb[[:space:]]\{1,\}\(\[[^]]*\][[:space:]]\{1,\}\)\{0,1\}\([^[:space:]]*\).*#\2#p' /etc/apt/sources.list 2>/dev/null || true
}
mirror=${DEBIAN_MIRROR:-$(apt_mirror | grep -v -e security -e updates | head -n 1 || true)}
if [[ -z "$mirror" ]]; then
    echo "standin_base: no Debian mirror in this machine's apt sources; set DEBIAN_MIRROR" >&2
    exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)

# Step 1: a minimal Debian root file system as an image, since no base image can be pulled.
if docker image inspect "$rootfs_image" >/dev/null 2>&1; then
    echo "standin_base: reusing the root file system image $rootfs_image."
else
    if ! command -v debootstrap >/dev/null; then
        echo "standin_base: installing debootstrap (apt-get)..."
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends debootstrap
    fi
    rootfs=$(mktemp -d /var/tmp/standin-rootfs.XXXXXX)
    # --one-file-system: never follow a /proc or /dev that an interrupted debootstrap left mounted.
    trap 'rm -rf --one-file-system "$rootfs" "$rootfs.log"' EXIT
    echo "standin_base: debootstrap bookworm into $rootfs (a few minutes)..."
    if ! debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates \
        bookworm "$rootfs" "$mirror" >"$rootfs.log" 2>&1; then
        tail -n 20 "$rootfs.log" >&2
        echo "standin_base: debootstrap failed (its last lines are above)." >&2
        exit 1
    fi
    # This machine's TLS goes through an intercepting proxy; its CA is only in the host's bundle.
    cp /etc/ssl/certs/ca-certificates.crt "$rootfs/etc/ssl/certs/ca-certificates.crt"
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    echo "standin_base: importing the root file system as $rootfs_image..."
    tar --numeric-owner -C "$rootfs" -c . | docker import - "$rootfs_image" >/dev/null
fi

# Step 2: what the official image adds on top: node, configurable-http-proxy, jupyterhub in /srv/venv.
echo "standin_base: building $image from $here/Dockerfile (about 2 minutes)..."
docker build --build-arg ROOTFS_IMAGE="$rootfs_image" -t "$image" "$here"
echo "standin_base: built $image ($(docker image inspect --format '{{.Size}}' "$image" | numfmt --to=si)B)."
