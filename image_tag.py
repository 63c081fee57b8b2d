"""An image's tag: a digest of everything that goes into the image (the hub's, the users').

The ECR repositories are immutable, so a tag must never be pushed twice with different content:
whenever an input of a build changes, the tag changes with it, and equal inputs give equal tags.
"""

import hashlib
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class ImageSources:
    """What one image is built from, relative to the project root."""

    context: str
    dockerfile: str
    # The folders of the context that go into the image; a .dockerignore lets in exactly these.
    folders: tuple[str, ...]
    dockerignore: str | None


# The hub: its context is the project root, so that the user rules (users/) go in too.
HUB = ImageSources(".", "hub_image/Dockerfile", ("hub_image", "users"), ".dockerignore")
# Each user's server: its folder is its whole context.
USER = ImageSources("user_image", "user_image/Dockerfile", ("user_image",), None)
IMAGES = (HUB, USER)
SOURCE_FOLDERS = tuple(folder for image in IMAGES for folder in image.folders)

# The one tag that moves: the newest image, whose layers a fresh build reuses (ECR lets it move).
BUILD_CACHE_TAG = "build-cache"

# Long enough never to collide in one repository, short enough to read in `docker images`.
_TAG_LENGTH = 16


def _is_ignored(name: str) -> bool:
    """What .dockerignore drops from the sources: Python's bytecode caches."""
    return name == "__pycache__" or name.endswith(".pyc")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _walk(folder: Path) -> Iterator[Path]:
    """Every file and link under `folder`, in name order; linked folders are not entered."""
    for entry in sorted(os.scandir(folder), key=lambda entry: entry.name):
        if _is_ignored(entry.name):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        else:
            yield Path(entry.path)


def _git_mode(path: Path, project_root: Path) -> int:
    """The mode git records for a source file: 0o755 if its owner may run it, else 0o644."""
    mode = path.lstat().st_mode
    if stat.S_ISLNK(mode):
        # pulumi-docker hashes a link's absolute target: each checkout would rebuild under one tag.
        raise ValueError(
            f"{path.relative_to(project_root)} is a symbolic link; an image's sources must "
            "be plain files (copy the file it points to in its place)"
        )
    return 0o755 if mode & stat.S_IXUSR else 0o644


def give_sources_their_git_modes(project_root: Path) -> None:
    """Set each source file's permission bits to what git records, whatever the checkout's umask.

    The docker provider hashes the full bits: so every checkout of a commit builds the same image.
    """
    project_root = Path(project_root).resolve()
    for source in SOURCE_FOLDERS:
        for path in _walk(project_root / source) if (project_root / source).is_dir() else ():
            mode = _git_mode(path, project_root)
            if stat.S_IMODE(path.lstat().st_mode) != mode:
                path.chmod(mode)


def source_files(project_root: Path, image: ImageSources = HUB) -> list[dict]:
    """Every file in an image's sources: its path, mode as git records it, and content digest."""
    project_root = Path(project_root).resolve()
    return [
        {
            "path": path.relative_to(project_root).as_posix(),
            "mode": f"{_git_mode(path, project_root):o}",
            "sha256": _sha256(path.read_bytes()),
        }
        for source in image.folders
        for path in _walk(project_root / source)
    ]


def tag_for(project_root: Path, build: dict, image: ImageSources = HUB) -> str:
    """The tag for `image` built from `project_root` with `build` (the docker build settings)."""
    project_root = Path(project_root)
    ignore = image.dockerignore and _sha256((project_root / image.dockerignore).read_bytes())
    inputs = {
        "files": source_files(project_root, image),
        "dockerignore": ignore,
        "build": build,
    }
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return _sha256(canonical.encode())[:_TAG_LENGTH]
