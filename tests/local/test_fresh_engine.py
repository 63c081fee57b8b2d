"""local/fresh_engine.py: a second engine that starts empty and apart from the main one, pulls
through the registry (whose log counts the bytes it served), and leaves nothing behind."""

import contextlib
import os
import secrets
import subprocess

import pytest

from local.docker_cli import buildkit_build, docker, engine_problem
from local.fresh_engine import running_engine
from local.registry import blob_pulls, blob_size, image_blobs
from tests.support import cannot_run, wait_for

LOG_SECONDS = 10


@contextlib.contextmanager
def started_engine():
    """running_engine(), or cannot_run (a failure in CI) where no second engine starts."""
    with contextlib.ExitStack() as stack:
        try:
            engine = stack.enter_context(running_engine())
        except (RuntimeError, TimeoutError) as error:
            cannot_run(f"a second Docker engine does not start here: {error}")
        yield engine


@pytest.fixture
def engine():
    with started_engine() as running:
        yield running


@pytest.fixture(scope="module")
def tiny_image(registry, docker_config, tmp_path_factory) -> str:
    """A one-file image, built on the main engine and pushed to the registry."""
    problem = engine_problem()
    if problem:
        cannot_run(f"no Docker engine ({problem}); start one, e.g. local/start_docker.sh")
    context = tmp_path_factory.mktemp("tiny")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY greeting.txt /\n")
    (context / "greeting.txt").write_bytes(secrets.token_bytes(4096))
    name = f"{registry.address}/fresh-engine-test:{secrets.token_hex(4)}"
    buildkit_build("--tag", name, str(context))
    env = dict(os.environ, DOCKER_CONFIG=str(docker_config))
    docker(
        "login", "--username", registry.username, "--password-stdin", registry.address,
        env=env, input=registry.password,
    )  # fmt: skip
    docker("push", name, env=env)
    yield name
    docker("rmi", name)


def test_it_starts_empty_and_apart_from_the_main_engine(engine, tiny_image):
    assert docker("images", "--quiet", env=engine.env) == ""
    root = docker("info", "--format", "{{.DockerRootDir}}", env=engine.env).strip()
    assert root == str(engine.root / "data")
    assert docker("info", "--format", "{{.DockerRootDir}}").strip() != root
    # The main engine's images are not there.
    assert docker("images", "--quiet", tiny_image)
    assert docker("images", "--quiet", tiny_image, env=engine.env) == ""


def test_in_use_points_docker_at_it_and_back(engine, docker_config):
    before = {name: os.environ.get(name) for name in ("DOCKER_HOST", "DOCKER_CONFIG")}
    with engine.in_use(docker_config):
        assert docker("info", "--format", "{{.DockerRootDir}}").strip() == str(engine.root / "data")
        assert os.environ["DOCKER_CONFIG"] == str(docker_config)
    assert {name: os.environ.get(name) for name in before} == before


def test_what_it_pulls_is_counted_with_its_bytes(engine, tiny_image, registry, docker_config):
    name, tag = tiny_image.split("/", 1)[1].split(":")
    config_digest, layers = image_blobs(registry, name, tag)
    expected = {config_digest, *(layer.digest for layer in layers)}
    before = len(blob_pulls(registry.log_path))
    with engine.in_use(docker_config):
        docker("pull", tiny_image)
    # The registry logs a request once it has answered it.
    wait_for(
        lambda: len(blob_pulls(registry.log_path)) >= before + len(expected),
        LOG_SECONDS,
        "the pulled blobs in the registry's log",
    )
    pulls = blob_pulls(registry.log_path)[before:]
    assert sorted(pull.digest for pull in pulls) == sorted(expected)
    for pull in pulls:
        assert pull.name == name
        assert pull.bytes == blob_size(registry, name, pull.digest)


def test_stopping_it_deletes_all_its_data():
    with started_engine() as engine:
        assert (engine.root / "data").is_dir()
    assert not engine.root.exists()
    gone = subprocess.run(["docker", "info"], capture_output=True, env=engine.env, timeout=30)
    assert gone.returncode != 0
