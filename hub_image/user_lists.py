"""Who may use the hub ("the lists"), read and checked from wherever this container gets them.

- Image only: ADMIN_USERS, ALLOWED_USERS, ADMIN_GROUPS and ALLOWED_GROUPS in the environment,
  read once, at start.
- USER_LISTS_URL=s3://bucket/key: a JSON object with the keys adminUsers, allowedUsers,
  adminGroups and allowedGroups, read at start and again while the hub runs (the authenticator
  asks); the environment's lists are then ignored.

Either way the lists are cleaned and checked by users/lists.py, as `pulumi preview` checks them,
and name at least one admin. Lists that cannot be read or are not good never reach the hub: at
start it refuses to run; later it keeps the last good ones, logs one error line per problem and
shows it in /hub/metrics (the two gauges below) for as long as the object stays as it is. Whatever
goes wrong while reading or parsing the object (a number too long for Python's int, nesting too
deep, an object over MAX_OBJECT_BYTES) counts so.
"""

import json
import time
from dataclasses import dataclass
from typing import NamedTuple

from prometheus_client import Gauge

from hub_image import s3_object
from hub_image.s3_object import ChangedObject, ProblemLog, S3ObjectError
from users.lists import (
    UserListError,
    check_home_directories,
    clean_group_list,
    clean_user_list,
    parse_user_list,
)

LISTS_GOOD = Gauge(
    "serverless_hub_user_lists_good",
    "1 when the user lists were last read and found good; 0 while the hub keeps older ones",
)
LAST_GOOD_READ = Gauge(
    "serverless_hub_user_lists_last_good_read_timestamp_seconds",
    "Unix time of the last read that found the user lists good (or unchanged and good)",
)

# Twice the 128 KiB the stack config can hold (the CLI's ceiling), which bounds what `pulumi up`
# writes: about 4,800 e-mail-style names. Past it the object is not read, let alone parsed.
MAX_OBJECT_BYTES = 256 * 1024


class ListKeys(NamedTuple):
    """What the four lists are called where they come from; errors name them so."""

    admin_users: str
    allowed_users: str
    admin_groups: str
    allowed_groups: str


ENVIRONMENT_KEYS = ListKeys("ADMIN_USERS", "ALLOWED_USERS", "ADMIN_GROUPS", "ALLOWED_GROUPS")
# As in the stack's config (Pulumi.<stack>.yaml), which the object is written from.
OBJECT_KEYS = ListKeys("adminUsers", "allowedUsers", "adminGroups", "allowedGroups")


@dataclass(frozen=True)
class UserLists:
    admin_users: frozenset[str]
    allowed_users: frozenset[str]
    admin_groups: frozenset[str]
    allowed_groups: frozenset[str]


def checked_lists(keys: ListKeys, entries: dict, where: str = "") -> UserLists:
    """Clean and check the four lists, found in `entries` under `keys`; UserListError names the bad
    one, after `where` (the object's URL, if they came from one), so the operator knows what to fix.
    """
    try:
        admin_users = clean_user_list(keys.admin_users, entries[keys.admin_users])
        allowed_users = clean_user_list(keys.allowed_users, entries[keys.allowed_users])
        admin_groups = clean_group_list(keys.admin_groups, entries[keys.admin_groups])
        allowed_groups = clean_group_list(keys.allowed_groups, entries[keys.allowed_groups])
        if not admin_users and not admin_groups:
            raise UserListError(
                f"{keys.admin_users}, {keys.admin_groups}: both empty; "
                "list at least one admin user or admin group"
            )
        check_home_directories({keys.admin_users: admin_users, keys.allowed_users: allowed_users})
    except UserListError as error:
        raise UserListError(f"{where}{error}") from None
    return UserLists(*map(frozenset, (admin_users, allowed_users, admin_groups, allowed_groups)))


def lists_from_environment(environ) -> UserLists:
    """The image's lists: comma/whitespace separated names or JSON arrays, in four variables."""
    entries = {name: parse_user_list(name, environ.get(name, "")) for name in ENVIRONMENT_KEYS}
    return checked_lists(ENVIRONMENT_KEYS, entries)


def lists_from_json(url: str, body: bytes) -> UserLists:
    """The lists in the object's JSON; `url` names the object in errors."""
    try:
        document = json.loads(body)
    except UnicodeDecodeError:
        raise UserListError(f"{url}: is not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise UserListError(
            f"{url}: not valid JSON ({error.msg} at character {error.pos})"
        ) from None
    # Exactly the four keys: a misspelt one must not read as an empty list and remove everyone.
    if not isinstance(document, dict) or set(document) != set(OBJECT_KEYS):
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise UserListError(
            f"{url}: must be a JSON object with exactly the keys {', '.join(OBJECT_KEYS)} "
            f"(found {found})"
        )
    return checked_lists(OBJECT_KEYS, document, f"{url}: ")


def parse_s3_url(url: str) -> tuple[str, str]:
    """USER_LISTS_URL's bucket and key; UserListError naming the variable when it is not one."""
    try:
        return s3_object.parse_s3_url("USER_LISTS_URL", url)
    except S3ObjectError as error:
        raise UserListError(str(error)) from None


def lists_at_start(environ, log) -> UserLists:
    """The lists the hub starts with: USER_LISTS_URL's object if set, else the environment's."""
    url = environ.get("USER_LISTS_URL", "").strip()
    if not url:
        lists = lists_from_environment(environ)
    else:
        ignored = [name for name in ENVIRONMENT_KEYS if environ.get(name, "").strip()]
        if ignored:
            log.warning("USER_LISTS_URL is set: the lists come from %s; ignoring %s", url, ignored)
        lists_object = S3Lists(url)
        lists_object.read()
        lists = lists_object.lists
    _mark_good()
    return lists


class S3Lists:
    """The lists' S3 object. Reading it again costs one request that returns no body (a 304)
    while it is unchanged: each read sends the ETag of the last one (a conditional GET)."""

    def __init__(self, url: str):
        parse_s3_url(url)
        self.url = url
        self._object = ChangedObject("USER_LISTS_URL", url, MAX_OBJECT_BYTES)
        # The last good lists: kept while the object cannot be read or holds bad ones.
        self.lists: UserLists | None = None
        self._problems = ProblemLog("user lists", url)

    def read(self) -> bool:
        """Read the object if it changed since the last read: True if it did and holds good lists
        (now in .lists), False if it is unchanged. UserListError says why it cannot be read or
        why its content is not good lists; .lists stays as it was."""
        try:
            lists = self._object.read(
                lambda body: lists_from_json(self.url, body), (UserListError,)
            )
        except S3ObjectError as error:
            raise UserListError(str(error)) from None
        if lists is None:
            return False
        self.lists = lists
        return True

    def refresh(self, log) -> bool:
        """Read again: True if the lists changed. A problem with the object is logged once (one
        error line naming it) until it changes or goes; the gauges show it meanwhile."""
        try:
            changed = self.read()
        except UserListError as error:
            LISTS_GOOD.set(0)
            self._problems.bad(log, str(error))
            return False
        self._problems.good(log)
        _mark_good()
        return changed


def _mark_good() -> None:
    LISTS_GOOD.set(1)
    LAST_GOOD_READ.set(time.time())
