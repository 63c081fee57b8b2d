"""A second Docker engine with an empty data root, as a fresh CI runner has, beside the main one.

Its own data root, exec root, pid file, socket and containerd (started by dockerd under its exec
root, in its own namespaces), its own bridge and no iptables rules, NAT or sysctl changes:
nothing it does touches the main engine's images, build cache, containers or network. It reaches
registries on 127.0.0.1 (plain HTTP there), so it pulls and pushes through the local registry like
a runner through ECR. Its containers cannot reach the internet: a build's RUN step that needs the
network fails there, so a build that succeeds took those steps from the cache.

Not `--bridge=none`: at start dockerd then deletes the host's docker0, the main engine's bridge
(the two engines share the host's network namespace).

    with running_engine() as engine, engine.in_use(docker_config):
        done = up_images(declared, base_image, docker_config)  # `pulumi up`'s image steps there

From the shell (runs until Ctrl-C; `DOCKER_HOST=unix://.../docker.sock docker info` reaches it):
    python3 -m local.fresh_engine
"""

import contextlib
import dataclasses
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from local.docker_cli import docker, environment
from local.image import Pushed, build, log_in, pull_cache_images, push
from local.polling import wait_for
from local.program import Declared

READY_DEADLINE_SECONDS = 60
STOP_DEADLINE_SECONDS = 30


@dataclasses.dataclass(frozen=True)
class FreshEngine:
    host: str  # DOCKER_HOST for it: unix://<root>/docker.sock
    root: Path  # its data root, exec root, socket and log all live here
    log_path: Path

    @property
    def env(self) -> dict[str, str]:
        """This process's environment with docker commands pointed at this engine."""
        return dict(os.environ, DOCKER_HOST=self.host)

    @contextlib.contextmanager
    def in_use(self, docker_config: Path | None = None) -> Iterator["FreshEngine"]:
        """Point every docker command this process runs at this engine, until the block ends.

        local.docker_cli and local.image run docker with this process's environment, so this is
        the one switch they all see. With `docker_config`, builds also see the registry login
        (as the provider hands its credentials to BuildKit) for FROM and --cache-from pulls.
        """
        settings = {"DOCKER_HOST": self.host}
        if docker_config is not None:
            settings["DOCKER_CONFIG"] = str(docker_config)
        with environment(settings):
            yield self


def dockerd_command(root: Path, namespace: str, bridge: str) -> list[str]:
    """dockerd with every path and socket of its own under `root`, containerd in `namespace`."""
    return [
        "dockerd",
        # Its own config, so /etc/docker/daemon.json (the main engine's) is not read.
        f"--config-file={root / 'daemon.json'}",
        f"--data-root={root / 'data'}",
        f"--exec-root={root / 'exec'}",
        f"--pidfile={root / 'docker.pid'}",
        f"--host=unix://{root / 'docker.sock'}",
        # Without --containerd, dockerd starts its own containerd under the exec root; these
        # namespaces keep its state apart even if it were ever pointed at a shared containerd.
        f"--containerd-namespace={namespace}",
        f"--containerd-plugins-namespace={namespace}-plugins",
        # Its own bridge; docker0, the iptables chains, NAT and ip_forward are the main engine's.
        f"--bridge={bridge}",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        "--ip-forward=false",
    ]


def free_subnet() -> ipaddress.IPv4Network:
    """A /24 that no route on this machine overlaps, for the fresh engine's bridge."""
    routes = json.loads(ip("-json", "-4", "route"))
    taken = [ipaddress.ip_network(r["dst"]) for r in routes if r["dst"] != "default"]
    for third in range(256):
        candidate = ipaddress.ip_network(f"10.254.{third}.0/24")
        if not any(candidate.overlaps(network) for network in taken):
            return candidate
    raise RuntimeError("no free /24 in 10.254.0.0/16 for the fresh engine's bridge")


@contextlib.contextmanager
def own_bridge(name: str) -> Iterator[str]:
    """A bridge interface for one engine (dockerd wants a non-default one made beforehand)."""
    gateway = next(free_subnet().hosts())
    ip("link", "add", name, "type", "bridge")
    try:
        ip("addr", "add", f"{gateway}/24", "dev", name)
        ip("link", "set", name, "up")
        yield name
    finally:
        ip("link", "delete", name)


def ip(*args: str) -> str:
    """`ip ARGS` (iproute2); on failure, raise with what it said."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done.stdout


def engine_answers(process: subprocess.Popen, host: str, log_path: Path) -> bool:
    if process.poll() is not None:
        tail = log_path.read_text()[-3000:]
        raise RuntimeError(f"dockerd exited with {process.returncode}; log {log_path}:\n{tail}")
    done = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        env=dict(os.environ, DOCKER_HOST=host),
        timeout=30,
    )
    return done.returncode == 0


@contextlib.contextmanager
def running_engine() -> Iterator[FreshEngine]:
    """Start a Docker engine with an empty data root; stop it and delete all its data on exit.

    Raises RuntimeError (dockerd missing or exiting) or TimeoutError if it does not answer.
    """
    if shutil.which("dockerd") is None:
        raise RuntimeError("dockerd is not installed (Debian's docker.io package provides it)")
    token = secrets.token_hex(4)
    name = f"fresh-engine-{token}"
    # Short: containerd's sockets live under the exec root, and a unix socket path has 107 bytes.
    root = Path(tempfile.gettempdir(), name)
    root.mkdir()
    # Its own identity key (a config-file setting only), not the main engine's /etc/docker/key.json.
    (root / "daemon.json").write_text(json.dumps({"deprecated-key-path": str(root / "key.json")}))
    log_path = root / "dockerd.log"
    host = f"unix://{root / 'docker.sock'}"
    # An interface name has at most 15 characters.
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(remove_data, root)
        bridge = cleanup.enter_context(own_bridge(f"fresh-{token}"))
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                dockerd_command(root, name, bridge),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        cleanup.callback(stop, process)
        wait_for(
            lambda: engine_answers(process, host, log_path),
            READY_DEADLINE_SECONDS,
            f"the fresh Docker engine at {host} to answer `docker info` (log {log_path})",
            interval=0.2,
        )
        yield FreshEngine(host, root, log_path)


def stop(process: subprocess.Popen) -> None:
    """SIGTERM, as an init would: dockerd stops its containerd and unmounts its layers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_DEADLINE_SECONDS)
        except subprocess.TimeoutExpired:
            # The whole session: dockerd and the containerd it started.
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def remove_data(root: Path) -> None:
    """Unmount whatever a killed engine left mounted under `root`, then delete it all."""
    mounts = Path("/proc/self/mounts").read_text().splitlines()
    # Deepest first; the mount table escapes a space in a path as \040.
    points = sorted(
        (line.split()[1].replace("\\040", " ") for line in mounts),
        key=len,
        reverse=True,
    )
    for point in points:
        if point == str(root) or point.startswith(f"{root}/"):
            subprocess.run(["umount", "--lazy", point], capture_output=True)
    shutil.rmtree(root)


def push_base_image(base_image: str, registry, docker_config: Path) -> str:
    """Push the base image (from the main engine) to the registry, as `<registry>/base:<tag>`.

    A fresh runner pulls its base from a registry; here that registry is the local one. Call it
    with the main engine in use (the one that has the base image).
    """
    repository_and_tag = base_image.split("@", 1)[0].rsplit("/", 1)[-1]
    tag = repository_and_tag.split(":", 1)[1] if ":" in repository_and_tag else "latest"
    name = f"{registry.address}/base:{tag}"
    env = dict(os.environ, DOCKER_CONFIG=str(docker_config))
    docker(
        "login", "--username", registry.username, "--password-stdin", registry.address,
        env=env, input=registry.password,
    )  # fmt: skip
    docker("tag", base_image, name)
    docker("push", name, env=env)
    return name


@dataclasses.dataclass(frozen=True)
class ImagesUp:
    pushed: dict[str, Pushed]  # by the declared image's name ("hub", "hub-build-cache")
    seconds: dict[str, float]  # "pull cache", "build", "push", each summed over the images


def up_images(
    declared: Declared,
    base_image: str,
    docker_config: Path,
    images: tuple[str, ...] = ("hub", "hub-build-cache"),
) -> ImagesUp:
    """`pulumi up`'s docker.Image steps, in the program's order, on the engine in use.

    For each image, as the provider: pull its cache_from images (timed apart here; build() asks
    again, which costs a manifest), build with BuildKit, push. Use it inside
    FreshEngine.in_use(docker_config), so the builds see the registry login.
    """
    log_in(declared, docker_config)
    seconds = dict.fromkeys(("pull cache", "build", "push"), 0.0)
    pushed = {}
    for image in images:
        started = time.monotonic()
        pull_cache_images(declared, image)
        pulled = time.monotonic()
        try:
            build(declared, base_image, image=image)
        except RuntimeError as error:
            raise RuntimeError(
                f"building {image!r} failed; on a fresh engine no RUN step reaches the network, "
                f"so if one ran (not CACHED below), the cache image did not match.\n{error}"
            ) from error
        built = time.monotonic()
        pushed[image] = push(declared, docker_config, image=image)
        seconds["pull cache"] += pulled - started
        seconds["build"] += built - pulled
        seconds["push"] += time.monotonic() - built
    return ImagesUp(pushed, seconds)


def main():
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with running_engine() as engine:
        print(f"fresh_engine: ready; DOCKER_HOST={engine.host} (log {engine.log_path})")
        print("fresh_engine: Ctrl-C stops it and deletes its data.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
