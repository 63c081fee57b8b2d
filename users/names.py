"""The one place that knows what a hub username and a group name are, and where homes live."""

import hashlib
import re
import string

HOME_ROOT = "/home"

# Lowercase letters, digits and . _ @ -: e-mail style names from the identity provider fit.
USERNAME_PATTERN = r"[a-z0-9_][a-z0-9._@-]{0,127}"
_USERNAME = re.compile(USERNAME_PATTERN)

# Account names stop at 32 characters, as Unix's do (useradd refuses longer ones): the server
# names its uid so, and task families and container names end with it.
_ACCOUNT_NAME_LIMIT = 32

# Cognito group names, as far as the hub's lists can carry them: letters, digits and + = . @ - _,
# up to 128. Cognito allows more punctuation; a comma would split an entry in two.
GROUP_NAME_PATTERN = r"[\w+=.@-]{1,128}"
_GROUP_NAME = re.compile(GROUP_NAME_PATTERN)


# Only A-Z are lowercased: str.lower() would make the Kelvin sign's "\u212aate" the name "kate".
_ASCII_LOWERCASE = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def normalise_username(name: str) -> str:
    """Trim a name and lowercase its A-Z; anything else stays, for username_problem to refuse."""
    return name.strip().translate(_ASCII_LOWERCASE)


def _list_entry_problem(name: object) -> str | None:
    """What no entry of a user or group list may be: not a string, empty, or with whitespace."""
    if not isinstance(name, str):
        return f"is not a string (it is {type(name).__name__})"
    if not name:
        return "is empty"
    if re.search(r"\s", name):
        return "has whitespace"
    return None


def username_problem(name: object) -> str | None:
    """Say what is wrong with a (normalised) hub username, or None when it is fine."""
    if problem := _list_entry_problem(name):
        return problem
    if "/" in name:
        return "has a '/'"
    if not _USERNAME.fullmatch(name):
        return (
            "is not a valid hub username (use at most 128 of a-z 0-9 . _ @ -, "
            "not starting with . @ or -)"
        )
    return None


def username_claim_problem(claim: object) -> str | None:
    """What is wrong with a username as the identity provider sends it, before the hub lowercases
    it: only its A-Z may differ from the hub username (nothing trimmed, no other letter folded)."""
    if isinstance(claim, str):
        claim = claim.translate(_ASCII_LOWERCASE)
    return username_problem(claim)


def normalise_group_name(name: str) -> str:
    """Trim a group name but keep its case: tokens carry it as created; it is matched exactly."""
    return name.strip()


def group_name_problem(name: object) -> str | None:
    """Say what is wrong with a (normalised) group name, or None when it is fine."""
    if problem := _list_entry_problem(name):
        return problem
    if "," in name:
        return "has a ',' (it separates entries in the hub's lists)"
    if not _GROUP_NAME.fullmatch(name):
        return "is not a valid group name (use at most 128 of letters, digits and + = . @ - _)"
    return None


def home_directory_for(username: str) -> str:
    """A user's home directory, '@' and '.' made '_' (jane.doe@uni.nl -> /home/jane_doe_uni_nl)."""
    return f"{HOME_ROOT}/{username.replace('@', '_').replace('.', '_')}"


def account_name_for(username: str) -> str:
    """The account name of a user's server (its uid's name inside it, the end of its task family
    and container name): the home directory's name, shortened if long."""
    name = home_directory_for(username).rsplit("/", 1)[1]
    if len(name) <= _ACCOUNT_NAME_LIMIT and not name.isdigit():
        return name
    # Long names keep a readable start and a hash of the whole, so two users never share one.
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: _ACCOUNT_NAME_LIMIT - 9]}-{digest}"
