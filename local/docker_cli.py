"""The docker CLI, called with argument lists; a failure raises with docker's own words."""

import contextlib
import functools
import json
import os
import subprocess
from dataclasses import dataclass, field

# Debian's docker.io client (20.10): BuildKit on DOCKER_BUILDKIT=1, no buildx plugin needed.
DEBIAN_CLIENT = "/usr/bin/docker"
NO_BUILDKIT = (
    "No docker client here builds with BuildKit, as `pulumi up` does: install the buildx plugin "
    "(Docker Desktop has it; on Linux the docker-buildx-plugin package) or Debian's docker.io "
    f"package, whose client ({DEBIAN_CLIENT}) builds with BuildKit without it."
)


@dataclass(frozen=True)
class Builder:
    """The command line and environment that make a BuildKit build on this machine."""

    command: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return " ".join([*(f"{name}={value}" for name, value in self.env.items()), *self.command])


def docker(*args: str, env: dict | None = None, input: str | None = None, timeout=1800) -> str:
    """Run `docker ARGS`, return its output; on failure, raise with what docker said."""
    return _run(["docker", *args], env=env, input=input, timeout=timeout)


def buildkit_build(*args: str, timeout=1800) -> str:
    """`docker build ARGS` with BuildKit, as pulumi-docker builds; its progress shows on failure."""
    builder = buildkit_builder()
    env = dict(os.environ, **builder.env)
    # BuildKit writes its progress to stderr: plain text, which _run shows only if the build fails.
    return _run([*builder.command, "--progress=plain", *args], env=env, timeout=timeout)


@functools.cache
def buildkit_builder() -> Builder:
    """How to build with BuildKit here, as docker.Image does; never with the classic builder."""
    # Docker Desktop and current clients: BuildKit is the buildx plugin.
    if _output(["docker", "buildx", "version"]):
        return Builder(("docker", "buildx", "build", "--load"))
    # Older clients build with BuildKit on DOCKER_BUILDKIT=1, and then (only then) list --progress;
    # current ones without buildx refuse, so try Debian's own client next.
    for client in ("docker", DEBIAN_CLIENT):
        if "--progress" in _output([client, "build", "--help"], {"DOCKER_BUILDKIT": "1"}):
            return Builder((client, "build"), {"DOCKER_BUILDKIT": "1"})
    raise RuntimeError(NO_BUILDKIT)


def engine_problem() -> str | None:
    """Why no Docker engine answers here, or None when one does."""
    try:
        done = subprocess.run(["docker", "info"], capture_output=True, text=True, timeout=30)
    except FileNotFoundError:
        return "the docker command is not installed"
    except subprocess.TimeoutExpired:
        return "`docker info` did not answer within 30 s"
    return None if done.returncode == 0 else f"`docker info` failed: {done.stderr.strip()}"


def inspect_image(name: str) -> dict:
    return json.loads(docker("image", "inspect", name))[0]


def _run(command: list[str], env: dict | None, input: str | None = None, timeout=1800) -> str:
    done = subprocess.run(
        command, capture_output=True, text=True, env=env, input=input, timeout=timeout
    )
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def _output(command: list[str], env: dict | None = None) -> str:
    """What a probe printed; empty when the client is missing or refuses."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, env=dict(os.environ, **(env or {})), timeout=30
        )
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else ""


@contextlib.contextmanager
def environment(settings: dict[str, str]):
    """These variables in this process's environment until the block ends (docker and boto3 read
    it), then the earlier values back."""
    saved = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
