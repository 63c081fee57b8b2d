"""Fixtures shared by the test folders."""

import os
import secrets
import shutil
import tempfile
from pathlib import Path

import pytest

from local.aws_stand_in import REGION, running_s3
from local.docker_cli import engine_problem
from local.identity_provider import running_provider
from local.image import build
from local.program import copy_project, run_program
from local.registry import running_registry
from tests.support import cannot_run, free_port


@pytest.fixture
def project_copy(tmp_path):
    """A copy of the project to change files in; the real sources stay untouched."""
    return copy_project(tmp_path / "project")


@pytest.fixture(scope="module")
def docker_config():
    """A throw-away docker client config: the registry login never lands in ~/.docker."""
    path = Path(tempfile.mkdtemp(prefix="docker-config-"))
    yield path
    shutil.rmtree(path)


LISTS_BUCKET = "hub-lists"


@pytest.fixture(scope="session")
def s3(tmp_path_factory):
    """The S3 stand-in on loopback, with the bucket the tests keep user lists in."""
    log = tmp_path_factory.mktemp("s3") / "moto.log"
    with running_s3(free_port(), log) as stand_in:
        stand_in.client().create_bucket(
            Bucket=LISTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        yield stand_in


@pytest.fixture(scope="session")
def provider(tmp_path_factory):
    """The Cognito-like test identity provider on loopback; tests give it users and claims."""
    log = tmp_path_factory.mktemp("provider") / "provider.log"
    with running_provider(free_port(), log) as running:
        yield running


@pytest.fixture(scope="session")
def registry(tmp_path_factory):
    """A registry on loopback that, like ECR, wants user AWS and a token as password."""
    workdir = tmp_path_factory.mktemp("registry")
    password = secrets.token_urlsafe(24)
    with running_registry(free_port(), password, workdir / "storage", workdir / "access.log") as r:
        yield r


@pytest.fixture(scope="session")
def docker_engine():
    """A Docker engine that answers; in CI (CI=true) its absence fails the run, never skips it."""
    problem = engine_problem()
    if problem:
        cannot_run(f"no Docker engine ({problem}); start one, e.g. local/start_docker.sh")


@pytest.fixture(scope="session")
def base_image(docker_engine):
    """The BASE_IMAGE to build FROM: `make test` sets it (official image, or the stand-in)."""
    name = os.environ.get("BASE_IMAGE")
    if not name:
        pytest.fail("BASE_IMAGE is not set; run the tests with `make test`, which chooses it")
    return name


@pytest.fixture(scope="session")
def user_image(base_image) -> str:
    """The user image as the program declares it, built here once: what users' servers run."""
    declared = run_program({"adminUsers": ["admin@example.org"]})
    return build(declared, base_image, name="serverless-hub-user:tests", image="user")
