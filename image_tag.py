"""The hub image's tag: a digest of everything that goes into the image.

The ECR repository is immutable, so a tag must never be pushed twice with different content:
whenever an input of the build changes, the tag changes with it, and equal inputs give equal tags.
"""

import hashlib
import json
import os
import stat
from pathlib import Path

# The folders in the build context: .dockerignore lets in exactly these (a test checks it).
IMAGE_SOURCES = ("hub_image", "users")
DOCKERIGNORE = ".dockerignore"
DOCKERFILE = "hub_image/Dockerfile"

# Long enough never to collide in one repository, short enough to read in `docker images`.
_TAG_LENGTH = 16


def _is_ignored(name: str) -> bool:
    """What .dockerignore drops from the sources: Python's bytecode caches."""
    return name == "__pycache__" or name.endswith(".pyc")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def source_files(project_root: Path) -> list[dict]:
    """Every file the build context holds, with its path, permission bits and content digest."""
    entries = []
    for source in IMAGE_SOURCES:
        for folder, dirs, files in os.walk(project_root / source):
            dirs[:] = sorted(d for d in dirs if not _is_ignored(d))
            for name in sorted(f for f in files if not _is_ignored(f)):
                path = Path(folder, name)
                mode = path.lstat().st_mode
                # A symlink is copied as a link: what it points to is its content.
                content = os.readlink(path).encode() if stat.S_ISLNK(mode) else path.read_bytes()
                entries.append(
                    {
                        "path": path.relative_to(project_root).as_posix(),
                        "mode": stat.S_IMODE(mode),
                        "sha256": _sha256(content),
                    }
                )
    return entries


def tag_for(project_root: Path, build: dict) -> str:
    """The tag for the image built from `project_root` with `build` (the docker build settings)."""
    project_root = Path(project_root)
    inputs = {
        "files": source_files(project_root),
        "dockerignore": _sha256((project_root / DOCKERIGNORE).read_bytes()),
        "build": build,
    }
    canonical = json.dumps(inputs, sort_keys=True, separators=(",", ":"))
    return _sha256(canonical.encode())[:_TAG_LENGTH]
