"""Reading and checking user lists, from stack config or from the hub's environment."""

import json
import re

from users.names import home_directory_for, normalise_username, username_problem


class UserListError(ValueError):
    """A user list that must not reach the hub; the message names the list and the entry."""


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
    """Normalise, check, de-duplicate and sort one list; `source` names it in errors."""
    if not isinstance(entries, list):
        raise UserListError(f"{source}: must be a list of usernames, got {entries!r}")
    names = set()
    for entry in entries:
        name = normalise_username(entry) if isinstance(entry, str) else entry
        problem = username_problem(name)
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
