"""What users' servers run: the user image (by digest) and the sizes a user may pick.

- On AWS: USER_SERVERS_URL=s3://bucket/key, a JSON object `{"image": ..., "sizes": [...]}` that
  `pulumi up` writes; the hub reads it again at each server start (a conditional GET, nothing
  when unchanged), so a new user image reaches new servers without a restart of the hub.
- Elsewhere: USER_IMAGE and SERVER_SIZES (the same sizes, as JSON) in the environment.

A size is a name, CPU units (1024 is one vCPU), memory in MiB, and optionally the groups that may
pick it (without, everyone). `pulumi preview` has checked them against Fargate's sizes.
"""

import json
import logging
import re
import threading
from dataclasses import dataclass

from hub_image.s3_object import ChangedObject, ProblemLog, S3ObjectError
from users.names import group_name_problem

# A size's name and keys: the program checks serverSizes against the same (hub_on_aws/settings.py).
SIZE_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,31}")
SIZE_KEYS = {"name", "cpu", "memory", "groups"}
# More than any sizes list needs: a bigger object is not this one.
MAX_OBJECT_BYTES = 64 * 1024
# Without SERVER_SIZES: the stack's default serverSizes (Pulumi.yaml; a test keeps them equal).
DEFAULT_SIZES = '[{"name": "standard", "cpu": 1024, "memory": 4096}]'
# The hub's own log (JupyterHub's application logger).
log = logging.getLogger("JupyterHub")


class UserServersError(ValueError):
    """The servers' settings cannot be used; the message names where they came from."""

    @property
    def jupyterhub_message(self) -> str:
        return f"The hub cannot start servers now: {self}. An admin must fix it."


@dataclass(frozen=True)
class Size:
    name: str
    cpu: int
    memory: int
    groups: frozenset[str] = frozenset()

    def label(self) -> str:
        """As the spawn page names it: "standard: 1 vCPU, 4 GB"."""
        return f"{self.name}: {self.cpu / 1024:g} vCPU, {self.memory / 1024:g} GB"

    def allows(self, groups: set[str]) -> bool:
        return not self.groups or bool(self.groups & groups)


@dataclass(frozen=True)
class UserServers:
    image: str
    sizes: tuple[Size, ...]

    def sizes_for(self, groups: set[str]) -> list[Size]:
        """The sizes someone in these groups may pick, in the stack's order (first: default)."""
        return [size for size in self.sizes if size.allows(groups)]


def checked(where: str, document: object) -> UserServers:
    """The servers' settings from their JSON form; UserServersError names what is wrong."""
    if not isinstance(document, dict) or set(document) != {"image", "sizes"}:
        raise UserServersError(f"{where}: must be a JSON object with the keys image and sizes")
    image, sizes = document["image"], document["sizes"]
    if not isinstance(image, str) or not image.strip():
        raise UserServersError(f"{where}: image must name the user image")
    if not isinstance(sizes, list) or not sizes:
        raise UserServersError(f"{where}: sizes must be a list of one or more sizes")
    made = []
    for index, size in enumerate(sizes):
        problem = _size_problem(size, {s.name for s in made})
        if problem:
            raise UserServersError(f"{where}: sizes[{index}] {problem}")
        made.append(
            Size(size["name"], size["cpu"], size["memory"], frozenset(size.get("groups", [])))
        )
    return UserServers(image.strip(), tuple(made))


def _size_problem(size: object, taken: set[str]) -> str | None:
    if not isinstance(size, dict) or not {"name", "cpu", "memory"} <= set(size) <= SIZE_KEYS:
        return "must have a name, cpu, memory and optionally groups"
    if not isinstance(size["name"], str) or not SIZE_NAME.fullmatch(size["name"]):
        return f"name {size['name']!r} is not at most 32 of a-z 0-9 -"
    if size["name"] in taken:
        return f"name {size['name']!r} is there twice"
    for key in ("cpu", "memory"):
        if not isinstance(size[key], int) or isinstance(size[key], bool) or size[key] <= 0:
            return f"{key} {size[key]!r} is not a positive whole number"
    groups = size.get("groups", [])
    if not isinstance(groups, list) or any(map(group_name_problem, groups)):
        return f"groups {groups!r} is not a list of group names"
    return None


def from_environment(environ) -> UserServers:
    """USER_IMAGE and SERVER_SIZES: for a hub that is not on AWS (make try, the tests)."""
    try:
        sizes = json.loads(environ.get("SERVER_SIZES", "").strip() or DEFAULT_SIZES)
    except ValueError as error:
        raise UserServersError(f"SERVER_SIZES: not valid JSON ({error})") from None
    image = environ.get("USER_IMAGE", "")
    return checked("USER_IMAGE, SERVER_SIZES", {"image": image, "sizes": sizes})


class S3UserServers:
    """USER_SERVERS_URL's object, read again at each server start; the last good one is kept."""

    def __init__(self, url: str):
        try:
            self._object = ChangedObject("USER_SERVERS_URL", url, MAX_OBJECT_BYTES)
        except S3ObjectError as error:
            raise UserServersError(str(error)) from None
        self.url = url
        self._current: UserServers | None = None
        self._problems = ProblemLog("servers' settings", url)
        # One read at a time: spawns run in worker threads.
        self._reading = threading.Lock()

    def current(self) -> UserServers:
        """The newest good settings (one GET, or a 304 when unchanged). A bad or unreadable object
        keeps the last good ones, and says so in the log; with none yet, UserServersError says
        why."""
        with self._reading:
            try:
                read = self._object.read(
                    lambda body: checked(self.url, json.loads(body)), (UserServersError,)
                )
            except S3ObjectError as error:
                if self._current is None:
                    raise UserServersError(str(error)) from None
                self._problems.bad(log, str(error))
                return self._current
            self._problems.good(log)
            self._current = read or self._current
            return self._current
