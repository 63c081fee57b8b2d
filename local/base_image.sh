#!/usr/bin/env bash
# Print the BASE_IMAGE that hub builds start FROM: $BASE_IMAGE if set, else the Dockerfile's
# pinned official image if it is here or can be pulled, else the stand-in built from Debian
# packages (for machines that cannot pull). Progress goes to stderr; only the name to stdout.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -n "${BASE_IMAGE:-}" ]]; then
    echo "$BASE_IMAGE"
    exit 0
fi
if ! docker info >/dev/null 2>&1; then
    echo "base_image: no Docker engine answers; the end-to-end tests will say so." >&2
    exit 0
fi
official=$(sed -n 's/^ARG BASE_IMAGE=//p' hub_image/Dockerfile)
if docker image inspect "$official" >/dev/null 2>&1 || docker pull --quiet "$official" >/dev/null 2>&1; then
    echo "$official"
    exit 0
fi
echo "base_image: cannot pull $official here; using the stand-in built from Debian packages." >&2
local/standin_base/build.sh >&2
echo "serverless-hub-standin-base:bookworm"
