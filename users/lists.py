"""Reading and checking user and group lists, from stack config or from the hub's environment."""

import json
import re

from users.names import (
    group_name_problem,
    home_directory_for,
    normalise_group_name,
    normalise_username,
    username_problem,
)


class UserListError(ValueError):
    """A user or group list that must not reach the hub; the message names the list and entry."""


def parse_user_list(source: str, text: str) -> list:
    """Split an environment variable's value: a JSON array, or names split by commas or spaces."""
    text = text.strip()
    if text.startswith("["):
        try:
            entries = json.loads(text)
        except json.JSONDecodeError as error:
            raise UserListError(
                f"{source}: not a valid JSON array ({error.msg} at character {error.pos})"
            ) from None
        if not isinstance(entries, list):
            raise UserListError(f"{source}: must be a JSON array of names")
        return entries
    return [entry for entry in re.split(r"[\s,]+", text) if entry]


def clean_user_list(source: str, entries: object) -> list[str]:
    """Normalise, check, de-duplicate and sort a list of usernames; `source` names it in errors."""
    return _clean(source, entries, "usernames", normalise_username, username_problem)


def clean_group_list(source: str, entries: object) -> list[str]:
    """The same for a list of group names, whose case is kept."""
    return _clean(source, entries, "group names", normalise_group_name, group_name_problem)


def _clean(source, entries, what, normalise, problem_with) -> list[str]:
    if not isinstance(entries, list):
        raise UserListError(f"{source}: must be a list of {what}, got {entries!r}")
    names = set()
    for entry in entries:
        name = normalise(entry) if isinstance(entry, str) else entry
        problem = problem_with(name)
        if problem:
            raise UserListError(f"{source}: entry {entry!r} {problem}")
        names.add(name)
    return sorted(names)


def check_home_directories(lists: dict[str, list[str]]) -> None:
    """Refuse two different names that would share one home directory (a.b and a_b)."""
    owner_of = {}
    for source, names in lists.items():
        for name in names:
            home = home_directory_for(name)
            other = owner_of.setdefault(home, (source, name))
            if other[1] != name:
                raise UserListError(
                    f"{source}: entry {name!r} would share the home directory {home} "
                    f"with {other[1]!r} in {other[0]}; keep only one of them"
                )
