"""local/image.py builds as pulumi-docker's `docker.Image` does: with BuildKit, as declared."""

import io
import secrets
import subprocess
import tarfile

import pytest

from local.docker_cli import docker, engine_problem, inspect_image
from local.image import build
from local.program import IMAGE, Declared, DeclaredResource
from tests.support import cannot_run

# The hub Dockerfile's shape, on nothing heavy: a base only BASE_IMAGE can replace, COPY, ARG/ENV.
DOCKERFILE = """\
ARG BASE_IMAGE=registry.invalid/not-pullable:1
FROM ${BASE_IMAGE}
COPY . /context/
ARG GREETING=""
ENV GREETING=${GREETING}
"""
# The allow-list at the context root, as the project's own .dockerignore.
DOCKERIGNORE = "*\n!image\n!kept.txt\n"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> str:
    """A tiny image built by local.image.build from a declaration shaped like the program's."""
    problem = engine_problem()
    if problem:
        cannot_run(f"no Docker engine ({problem}); start one, e.g. local/start_docker.sh")
    root = tmp_path_factory.mktemp("project")
    (root / "image").mkdir()
    (root / "image" / "Dockerfile").write_text(DOCKERFILE)
    (root / ".dockerignore").write_text(DOCKERIGNORE)
    (root / "kept.txt").write_text("in the image\n")
    (root / "left-out.txt").write_text("not in the image\n")
    name = f"serverless-hub-test-image:{secrets.token_hex(4)}"
    settings = {
        "context": ".",
        "dockerfile": "image/Dockerfile",
        "platform": "linux/amd64",
        "args": {"GREETING": "hello"},
    }
    inputs = {"imageName": name, "build": settings}
    declared = Declared(root, [DeclaredResource(IMAGE, "hub", inputs, frozenset())])
    build(declared, base_image="scratch")
    yield name
    docker("rmi", "--force", name)


def test_the_image_is_built_by_buildkit(built):
    # BuildKit notes itself in each history entry; the classic builder leaves the comment empty.
    comments = docker("history", "--no-trunc", "--format", "{{.Comment}}", built).splitlines()
    assert set(comments) == {"buildkit.dockerfile.v0"}


def test_the_declared_settings_reach_the_build(built):
    image = inspect_image(built)
    assert built in image["RepoTags"]
    assert (image["Os"], image["Architecture"]) == ("linux", "amd64")
    assert "GREETING=hello" in image["Config"]["Env"]


def test_only_what_dockerignore_allows_is_in_the_image(built):
    files = files_in(built)
    assert {"context/kept.txt", "context/image/Dockerfile"} <= files
    assert "context/left-out.txt" not in files


def files_in(image: str) -> set[str]:
    """The paths in the image, through a container that is created and never started."""
    container = docker("create", image, "never-run").strip()
    try:
        exported = subprocess.run(["docker", "export", container], capture_output=True, check=True)
    finally:
        docker("rm", container)
    return set(tarfile.open(fileobj=io.BytesIO(exported.stdout)).getnames())
