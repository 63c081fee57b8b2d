"""Build and push the hub image exactly as the program declares it, with the docker CLI.

The program (run under mocks by local/program.py) is the one source of the build settings;
only BASE_IMAGE is added, for machines that build FROM the stand-in base. Builds use BuildKit,
as pulumi-docker's `docker.Image` does.
"""

import os
from dataclasses import dataclass
from pathlib import Path

from local.docker_cli import buildkit_build, docker, inspect_image
from local.program import IMAGE, Declared


@dataclass(frozen=True)
class Pushed:
    name: str  # repository:tag, as the program declared it
    digest_ref: str  # repository@sha256:..., what a deployment pins
    config_digest: str  # the image config's digest (the image ID)


def build(declared: Declared, base_image: str | None = None, name: str | None = None) -> str:
    """A BuildKit build with the declared context, Dockerfile, platform and build arguments."""
    inputs = declared.resource(IMAGE).inputs
    settings = inputs["build"]
    name = name or inputs["imageName"]
    args = dict(settings["args"], **({"BASE_IMAGE": base_image} if base_image else {}))
    command = ["--platform", settings["platform"]]
    command += ["--file", str(declared.path(settings["dockerfile"])), "--tag", name]
    for arg, value in args.items():
        command += ["--build-arg", f"{arg}={value}"]
    buildkit_build(*command, str(declared.path(settings["context"])))
    return name


def push(declared: Declared, docker_config: Path) -> Pushed:
    """Log in with the declared registry credentials (into a throw-away config) and push."""
    inputs = declared.resource(IMAGE).inputs
    registry = inputs["registry"]
    env = dict(os.environ, DOCKER_CONFIG=str(docker_config))
    docker(
        "login", "--username", registry["username"], "--password-stdin", registry["server"],
        env=env, input=registry["password"],
    )  # fmt: skip
    name = inputs["imageName"]
    docker("push", name, env=env)
    image = inspect_image(name)
    # An identical rebuild is the same image, which other runs may have pushed elsewhere too.
    repository = name.rsplit(":", 1)[0]
    digest_ref = next(ref for ref in image["RepoDigests"] if ref.startswith(f"{repository}@"))
    return Pushed(name, digest_ref, image["Id"])
