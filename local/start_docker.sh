#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install docker.io if missing, start dockerd if it is not running.
# Usage: local/start_docker.sh   (idempotent; as root; dockerd's log goes to $DOCKERD_LOG, default /tmp/dockerd.log)
set -euo pipefail

log=${DOCKERD_LOG:-/tmp/dockerd.log}
deadline_seconds=${DOCKERD_DEADLINE_SECONDS:-60}

# CI machines start fresh: the engine comes from Debian's archive.
if ! command -v dockerd >/dev/null; then
    echo "start_docker: installing docker.io (apt-get)..."
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker.io
fi

if docker info >/dev/null 2>&1; then
    echo "start_docker: the Docker engine is already running."
    exit 0
fi

# No systemd here: run the daemon in the background, detached from this shell.
echo "start_docker: starting dockerd in the background (log: $log)..."
nohup dockerd >"$log" 2>&1 &

# Poll until the engine answers, or stop with a message after the deadline.
end=$((SECONDS + deadline_seconds))
until docker info >/dev/null 2>&1; do
    if ((SECONDS >= end)); then
        echo "start_docker: dockerd did not answer within ${deadline_seconds}s; last lines of $log:" >&2
        tail -n 20 "$log" >&2
        exit 1
    fi
    sleep 0.5
done
echo "start_docker: the Docker engine is ready ($(docker version --format '{{.Server.Version}}'))."
