"""A fresh CI runner: an empty Docker data root, against the registry that holds the last image.

The previous image and its build-cache tag are pushed from the main engine, as the last
`pulumi up` left them. Each test then runs `pulumi up`'s image steps on a brand-new engine of its
own (local/fresh_engine.py): the provider's pull of the cache image, the BuildKit build FROM the
base in the registry, the push, from a checkout whose files all have new times, as a fresh clone's
do. That engine's containers reach no network, so a build that succeeds there took the tini and
pip steps from the cache (issue 11).
"""

import contextlib
import dataclasses
import os
import subprocess
import time
from pathlib import Path

import pytest

from local.docker_cli import docker, inspect_image
from local.fresh_engine import push_base_image, running_engine, up_images
from local.image import Pushed, build, push
from local.program import Declared, HubMocks, run_program
from local.registry import (
    Layer,
    blob_uploads,
    image_blobs,
    manifest_pushes,
    uploaded_digest,
)
from tests.e2e.conftest import stage
from tests.support import cannot_run, wait_for

pytestmark = pytest.mark.e2e

STACK_NAME = "fresh"
STACK = {"adminUsers": ["admin@example.org"], "allowedUsers": ["jane.doe@uni.nl"]}
LOG_SECONDS = 10
# The Dockerfile steps whose layers the tests follow, as the image history names them.
PIP_STEP = "pip install --no-cache-dir --requirement /srv/hub/requirements.txt"
CODE_STEP = "COPY hub_image/*.py"


@dataclasses.dataclass(frozen=True)
class Previous:
    declared: Declared
    pushed: Pushed
    root_fs: dict  # its RootFS as the main engine built it
    layers: list[Layer]  # as the registry holds them


def mocks(registry) -> HubMocks:
    return HubMocks(registry_host=registry.address, token_password=registry.password)


def repository_and_tag(pushed: Pushed) -> tuple[str, str]:
    repository, tag = pushed.name.split("/", 1)[1].rsplit(":", 1)
    return repository, tag


def fresh_checkout(root: Path) -> Path:
    """The project copy with every file's times new, as a fresh clone on a runner has them."""
    now = time.time()
    for path in root.rglob("*"):
        os.utime(path, (now, now))
    return root


def step_index(layers: list[Layer], step: str) -> int:
    [index] = [i for i, layer in enumerate(layers) if step in layer.created_by]
    return index


@contextlib.contextmanager
def fresh_runner(docker_config: Path):
    """A brand-new engine, used by every docker command in the block; or cannot_run."""
    with contextlib.ExitStack() as stack:
        try:
            engine = stack.enter_context(running_engine())
        except (RuntimeError, TimeoutError) as error:
            cannot_run(f"a second Docker engine does not start here: {error}")
        yield stack.enter_context(engine.in_use(docker_config))


@dataclasses.dataclass(frozen=True)
class FreshUp:
    pushed: Pushed  # the hub image
    uploads: list[str]  # the digests of the blobs uploaded
    root_fs: dict  # the hub image's RootFS as the fresh runner built it


def up_on_fresh_runner(
    registry, declared: Declared, base: str, docker_config: Path, images=("hub",)
) -> FreshUp:
    """`pulumi up`'s image steps for `images` on a brand-new engine, which then goes."""
    uploads_before = len(blob_uploads(registry.log_path))
    manifests_before = len(manifest_pushes(registry.log_path))
    tag = declared.outputs["imageName"].value.rsplit(":", 1)[1]
    with fresh_runner(docker_config), stage(f"fresh runner: pull, build, push {tag}"):
        pushed = up_images(declared, base, docker_config, images).pushed["hub"]
        root_fs = inspect_image(pushed.name)["RootFS"]
    # The registry logs a request once it has answered it: wait for the last manifest's line.
    wait_for(
        lambda: len(manifest_pushes(registry.log_path)) >= manifests_before + len(images),
        LOG_SECONDS,
        "the pushed manifests in the registry's log",
    )
    uploads = blob_uploads(registry.log_path)[uploads_before:]
    return FreshUp(pushed, [uploaded_digest(upload) for upload in uploads], root_fs)


@pytest.fixture(scope="module")
def base_in_registry(registry, base_image, docker_config) -> str:
    """The base image where a runner pulls it from: the registry (here, the local one)."""
    with stage("fresh runner: push the base image to the registry"):
        name = push_base_image(base_image, registry, docker_config)
    yield name
    docker("rmi", "--no-prune", name)


@pytest.fixture(scope="module")
def previous(registry, base_in_registry, docker_config) -> Previous:
    """What the last `pulumi up` left: the image under its content tag and build-cache, pushed
    from the main engine."""
    declared = run_program(STACK, stack=STACK_NAME, mocks=mocks(registry))
    with stage("fresh runner: the previous image, from the main engine"):
        build(declared, base_in_registry)
        pushed = push(declared, docker_config)
        build(declared, base_in_registry, image="hub-build-cache")
        cache = push(declared, docker_config, image="hub-build-cache")
    _, layers = image_blobs(registry, *repository_and_tag(pushed))
    yield Previous(declared, pushed, inspect_image(pushed.name)["RootFS"], layers)
    subprocess.run(["docker", "rmi", "--no-prune", pushed.name, cache.name], capture_output=True)


def test_a_users_only_change_uploads_no_layer(
    registry, previous, base_in_registry, docker_config, project_copy
):
    newcomers = [*STACK["allowedUsers"], "newcomer@uni.nl"]
    config = {**STACK, "allowedUsers": newcomers}
    checkout = fresh_checkout(project_copy)
    declared = run_program(config, stack=STACK_NAME, mocks=mocks(registry), project_root=checkout)
    changed = up_on_fresh_runner(registry, declared, base_in_registry, docker_config)
    assert changed.pushed.name != previous.pushed.name, "a users-only change must get a new tag"
    assert changed.uploads == [changed.pushed.config_digest], "only the new config may be uploaded"
    assert changed.root_fs == previous.root_fs
    _, layers = image_blobs(registry, *repository_and_tag(changed.pushed))
    assert layers == previous.layers


def test_a_hub_code_change_uploads_only_the_code_layer(
    registry, previous, base_in_registry, docker_config, project_copy
):
    config = project_copy / "hub_image" / "jupyterhub_config.py"
    config.write_text(config.read_text() + "# One line more: a hub-code change.\n")
    checkout = fresh_checkout(project_copy)
    declared = run_program(STACK, stack=STACK_NAME, mocks=mocks(registry), project_root=checkout)
    changed = up_on_fresh_runner(registry, declared, base_in_registry, docker_config)
    config_digest, layers = image_blobs(registry, *repository_and_tag(changed.pushed))
    pip, code = step_index(layers, PIP_STEP), step_index(layers, CODE_STEP)
    assert step_index(previous.layers, PIP_STEP) == pip
    # The package layer is the previous image's own blob (a rebuild would give new file times).
    assert layers[pip] == previous.layers[pip]
    assert layers[pip].digest not in changed.uploads
    assert layers[code].digest != previous.layers[code].digest
    assert sorted(changed.uploads) == sorted([layers[code].digest, config_digest])
    unchanged = [layer for i, layer in enumerate(layers) if i != code]
    assert unchanged == [layer for i, layer in enumerate(previous.layers) if i != code]


def test_the_cache_tag_a_fresh_runner_moves_serves_the_next_one(
    registry, previous, base_in_registry, docker_config, project_copy
):
    """CI's steady state: each run's fresh runner moves build-cache, and the next one uses it."""
    newcomers = [*STACK["allowedUsers"], "third.newcomer@uni.nl"]
    first = run_program(
        {**STACK, "allowedUsers": newcomers}, stack=STACK_NAME, mocks=mocks(registry)
    )
    config = project_copy / "hub_image" / "jupyterhub_config.py"
    config.write_text(config.read_text() + "# One line more: the next run's change.\n")
    checkout = fresh_checkout(project_copy)
    second = run_program(STACK, stack=STACK_NAME, mocks=mocks(registry), project_root=checkout)
    both = ("hub", "hub-build-cache")
    try:
        moved = up_on_fresh_runner(registry, first, base_in_registry, docker_config, both)
        repository, _ = repository_and_tag(moved.pushed)
        assert image_blobs(registry, repository, "build-cache")[0] == moved.pushed.config_digest
        changed = up_on_fresh_runner(registry, second, base_in_registry, docker_config)
    finally:
        # The other tests start from the previous image: its build-cache tag goes back there.
        push(previous.declared, docker_config, image="hub-build-cache")
    config_digest, layers = image_blobs(registry, *repository_and_tag(changed.pushed))
    pip, code = step_index(layers, PIP_STEP), step_index(layers, CODE_STEP)
    assert layers[pip] == previous.layers[pip]
    assert sorted(changed.uploads) == sorted([layers[code].digest, config_digest])
