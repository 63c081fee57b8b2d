"""Build and push the hub image exactly as the program declares it, with the docker CLI.

The program (run under mocks by local/program.py) is the one source of the build settings;
only BASE_IMAGE is added, for machines that build FROM the stand-in base. Builds use BuildKit,
as pulumi-docker's `docker.Image` does.
"""

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from local.docker_cli import buildkit_build, docker, inspect_image
from local.program import IMAGE, Declared


@dataclass(frozen=True)
class Pushed:
    name: str  # repository:tag, as the program declared it
    digest_ref: str  # repository@sha256:..., what a deployment pins
    config_digest: str  # the image config's digest (the image ID)


def build(
    declared: Declared, base_image: str | None = None, name: str | None = None, image: str = "hub"
) -> str:
    """A BuildKit build of the declared image `image` (its context, Dockerfile, platform, args)."""
    inputs = declared.resource(IMAGE, image).inputs
    settings = inputs["build"]
    name = name or inputs["imageName"]
    args = dict(settings["args"], **({"BASE_IMAGE": base_image} if base_image else {}))
    command = ["--platform", settings["platform"]]
    command += ["--file", str(declared.path(settings["dockerfile"])), "--tag", name]
    for arg, value in args.items():
        command += ["--build-arg", f"{arg}={value}"]
    # As the provider does: it pulls these first (a missing one is no error); their layers count.
    pull_cache_images(declared, image)
    for cache in settings.get("cacheFrom", {}).get("images", []):
        command += ["--cache-from", cache]
    buildkit_build(*command, str(declared.path(settings["context"])))
    return name


def log_in(declared: Declared, docker_config: Path) -> dict:
    """Log in with the declared registry credentials, into a throw-away config; its environment."""
    registry = declared.resource(IMAGE).inputs["registry"]
    env = dict(os.environ, DOCKER_CONFIG=str(docker_config))
    docker(
        "login", "--username", registry["username"], "--password-stdin", registry["server"],
        env=env, input=registry["password"],
    )  # fmt: skip
    return env


def push(declared: Declared, docker_config: Path, image: str = "hub") -> Pushed:
    """Log in and push the declared image `image`, as the provider pushes its image_name."""
    inputs = declared.resource(IMAGE, image).inputs
    env = log_in(declared, docker_config)
    name = inputs["imageName"]
    docker("push", name, env=env)
    pushed = inspect_image(name)
    # An identical rebuild is the same image, which other runs may have pushed elsewhere too.
    repository = name.rsplit(":", 1)[0]
    digest_ref = next(ref for ref in pushed["RepoDigests"] if ref.startswith(f"{repository}@"))
    return Pushed(name, digest_ref, pushed["Id"])


def pull_cache_images(declared: Declared, image: str = "hub") -> list[str]:
    """Pull the declared image's cache_from images, as the provider does before it builds.

    Like the provider, a cache image the registry does not have is no error. Needs the registry
    login in DOCKER_CONFIG (see FreshEngine.in_use). Returns the ones pulled.
    """
    settings = declared.resource(IMAGE, image).inputs["build"]
    pulled = []
    for cache in settings.get("cacheFrom", {}).get("images", []):
        done = subprocess.run(
            ["docker", "pull", "--platform", settings["platform"], cache],
            capture_output=True,
            text=True,
            timeout=1800,
        )
        if done.returncode == 0:
            pulled.append(cache)
    return pulled
