"""Fixtures shared by the test folders."""

import secrets
import shutil

import pytest

from image_tag import IMAGE_SOURCES
from local.identity_provider import running_provider
from local.program import PROJECT_ROOT
from local.registry import running_registry
from tests.support import free_port

# What the program needs besides the image's sources.
PROGRAM_FILES = ("__main__.py", "image_tag.py", "stack_settings.py", "Pulumi.yaml", ".dockerignore")


@pytest.fixture
def project_copy(tmp_path):
    """A copy of the project to change files in; the real sources stay untouched."""
    root = tmp_path / "project"
    root.mkdir()
    for name in PROGRAM_FILES:
        shutil.copy2(PROJECT_ROOT / name, root / name)
    for name in IMAGE_SOURCES:
        shutil.copytree(
            PROJECT_ROOT / name, root / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    return root


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
