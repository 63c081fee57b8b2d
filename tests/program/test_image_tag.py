"""The image tag: equal inputs give equal tags, any change to what goes into the image a new one."""

import os
import re
import stat

import pytest

from image_tag import HUB, USER, give_sources_their_git_modes, tag_for
from local.program import PROJECT_ROOT

BUILD = {
    "context": ".",
    "dockerfile": HUB.dockerfile,
    "platform": "linux/amd64",
    "args": {"ADMIN_USERS": "admin", "ALLOWED_USERS": "jane"},
}


def test_dockerignore_lets_in_exactly_the_image_sources():
    lines = [
        line.strip()
        for line in (PROJECT_ROOT / HUB.dockerignore).read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert tuple(line[1:] for line in lines if line.startswith("!")) == HUB.folders
    # What the tag skips is what docker leaves out of the context.
    assert [line for line in lines[1:] if not line.startswith("!")] == [
        "**/__pycache__",
        "**/*.pyc",
    ]


def test_tag_is_short_readable_and_stable():
    tag = tag_for(PROJECT_ROOT, BUILD)
    assert re.fullmatch("[0-9a-f]{16}", tag)
    assert tag_for(PROJECT_ROOT, BUILD) == tag


def test_tag_does_not_depend_on_where_the_project_is(project_copy):
    assert tag_for(project_copy, BUILD) == tag_for(PROJECT_ROOT, BUILD)


def test_tag_does_not_depend_on_the_order_of_build_args():
    reordered = BUILD | {"args": {"ALLOWED_USERS": "jane", "ADMIN_USERS": "admin"}}
    assert tag_for(PROJECT_ROOT, reordered) == tag_for(PROJECT_ROOT, BUILD)


@pytest.mark.parametrize(
    "change",
    [
        {"platform": "linux/arm64"},
        {"dockerfile": "hub_image/Other.Dockerfile"},
        {"context": "hub_image"},
        {"args": {"ADMIN_USERS": "admin", "ALLOWED_USERS": "jane,bob"}},
        {"args": {"ADMIN_USERS": "admin"}},
    ],
)
def test_tag_changes_with_every_build_setting(change):
    assert tag_for(PROJECT_ROOT, BUILD | change) != tag_for(PROJECT_ROOT, BUILD)


def append(path, text="\n# changed\n"):
    with path.open("a") as file:
        file.write(text)


def add_file(path, content=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)


def add_bytecode_cache(folder):
    add_file(folder / "__pycache__" / "names.cpython-311.pyc", "\0")
    add_file(folder / "__pycache__" / "README")


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda root: append(root / "hub_image" / "Dockerfile"), id="dockerfile"),
        pytest.param(
            lambda root: append(root / "hub_image" / "requirements.txt"), id="requirements"
        ),
        pytest.param(lambda root: append(root / "users" / "names.py"), id="users-code"),
        pytest.param(lambda root: (root / "hub_image" / "new.py").write_text(""), id="new-file"),
        pytest.param(lambda root: (root / "users" / "lists.py").unlink(), id="removed-file"),
        pytest.param(
            lambda root: (root / "users" / "lists.py").rename(root / "users" / "lists2.py"),
            id="renamed-file",
        ),
        pytest.param(lambda root: append(root / HUB.dockerignore, "!docs\n"), id="dockerignore"),
        pytest.param(
            lambda root: (root / "users" / "names.py").chmod(
                (root / "users" / "names.py").stat().st_mode | stat.S_IXUSR
            ),
            id="executable-bit",
        ),
    ],
)
def test_tag_changes_when_what_goes_into_the_image_changes(project_copy, edit):
    before = tag_for(project_copy, BUILD)
    edit(project_copy)
    assert tag_for(project_copy, BUILD) != before


def checkout(root, files, umask):
    """Writes `files` ({path: (content, executable)}) as git checks them out under `umask`."""
    previous = os.umask(umask)
    try:
        for name, (content, executable) in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            if executable:
                path.chmod(0o777 & ~umask)
    finally:
        os.umask(previous)


def test_tag_is_the_same_for_a_checkout_under_any_umask(tmp_path):
    files = {
        path.relative_to(PROJECT_ROOT).as_posix(): (path.read_bytes(), False)
        for source in HUB.folders
        for path in (PROJECT_ROOT / source).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    files[HUB.dockerignore] = ((PROJECT_ROOT / HUB.dockerignore).read_bytes(), False)
    files["hub_image/start.sh"] = (b"#!/bin/sh\nexec jupyterhub\n", True)
    checkout(shared := tmp_path / "umask-002", files, 0o002)
    checkout(private := tmp_path / "umask-022", files, 0o022)
    # The checkouts differ in group write, as on two operators' machines, and in nothing else.
    assert (shared / "hub_image/start.sh").stat().st_mode & 0o777 == 0o775
    assert (private / "hub_image/start.sh").stat().st_mode & 0o777 == 0o755
    assert tag_for(shared, BUILD) == tag_for(private, BUILD)


@pytest.mark.parametrize(
    "target", ["names.py", "../hub_image", "../Pulumi.yaml", "/etc", "missing.py"]
)
def test_a_symbolic_link_in_the_sources_is_refused(project_copy, target):
    # pulumi-docker hashes where a link points on this machine: another checkout would rebuild.
    os.symlink(target, project_copy / "users" / "link")
    with pytest.raises(ValueError) as refusal:
        tag_for(project_copy, BUILD)
    assert str(refusal.value) == (
        "users/link is a symbolic link; an image's sources must be plain files "
        "(copy the file it points to in its place)"
    )


def test_the_sources_get_the_modes_git_records_whatever_the_umask(tmp_path):
    files = {
        "hub_image/start.sh": (b"#!/bin/sh\nexec jupyterhub\n", True),
        "users/names.py": (b"HOME_ROOT = '/home'\n", False),
    }
    checkout(shared := tmp_path / "umask-002", files, 0o002)
    checkout(private := tmp_path / "umask-077", files, 0o077)
    for root in (shared, private):
        give_sources_their_git_modes(root)
        # What the docker provider hashes (the full bits) is now the same in both checkouts.
        assert stat.S_IMODE((root / "hub_image/start.sh").stat().st_mode) == 0o755
        assert stat.S_IMODE((root / "users/names.py").stat().st_mode) == 0o644


@pytest.mark.parametrize(
    "edit",
    [
        pytest.param(lambda root: (root / "README.md").write_text("# new\n"), id="readme"),
        pytest.param(
            lambda root: (root / "Pulumi.dev.yaml").write_text("config: {}\n"), id="stack"
        ),
        pytest.param(lambda root: append(root / "Pulumi.yaml"), id="project-file"),
        pytest.param(lambda root: append(root / "__main__.py"), id="program"),
        pytest.param(lambda root: add_file(root / "tests" / "test_new.py"), id="tests"),
        # docker leaves out the whole folder, whatever is in it.
        pytest.param(lambda root: add_bytecode_cache(root / "users"), id="bytecode-cache"),
        pytest.param(lambda root: (root / "hub_image" / "stray.pyc").write_bytes(b"\0"), id="pyc"),
    ],
)
def test_tag_ignores_what_stays_out_of_the_image(project_copy, edit):
    before = tag_for(project_copy, BUILD)
    edit(project_copy)
    assert tag_for(project_copy, BUILD) == before


USER_BUILD = {"context": "user_image", "dockerfile": USER.dockerfile, "platform": "linux/amd64"}


@pytest.mark.parametrize(
    ("edit", "hub_changes", "user_changes"),
    [
        pytest.param(lambda root: append(root / "users" / "names.py"), True, False, id="hub-code"),
        pytest.param(
            lambda root: append(root / "user_image" / "group-requirements.txt", "numpy==2.3.5\n"),
            False,
            True,
            id="group-packages",
        ),
    ],
)
def test_each_image_has_its_own_tag_from_its_own_sources(
    project_copy, edit, hub_changes, user_changes
):
    before = tag_for(project_copy, BUILD), tag_for(project_copy, USER_BUILD, USER)
    edit(project_copy)
    after = tag_for(project_copy, BUILD), tag_for(project_copy, USER_BUILD, USER)
    assert (before[0] != after[0], before[1] != after[1]) == (hub_changes, user_changes)
