"""The stack's settings, read from `pulumi config` and checked before anything is declared.

Defaults live in Pulumi.yaml's `config:` block; the CLI merges them in, so nothing here repeats one.
Lives outside users/ because users/ is copied into the hub image, which has no Pulumi.
"""

import json
import re
from dataclasses import dataclass

import pulumi

import service_rules
from users.lists import (
    UserListError,
    check_home_directories,
    clean_group_list,
    clean_user_list,
)

# The Pulumi CLI hands the program its whole config in one environment variable, PULUMI_CONFIG,
# and Linux refuses one "NAME=value" over 128 KiB: past that `pulumi up` fails before we run.
CONFIG_CEILING_BYTES = 128 * 1024

# os/arch as docker names it, with an optional variant: linux/amd64, linux/arm64, linux/arm/v7.
_PLATFORM = re.compile(r"[a-z0-9]+/[a-z0-9_]+(/[a-z0-9]+)?")


@dataclass(frozen=True)
class StackSettings:
    repository_name: str
    # The users' servers' image goes to a repository of its own beside the hub's.
    user_repository_name: str
    force_delete: bool
    keep_images: int
    platform: str
    build_on_preview: bool
    admin_users: list[str]
    allowed_users: list[str]
    admin_groups: list[str]
    allowed_groups: list[str]


def read(config: pulumi.Config, stack: str) -> StackSettings:
    """Read and check every setting; a bad one stops the program with a one-line pulumi.RunError."""
    keep_images = config.require_int("keepImages")
    if keep_images < 1:
        raise pulumi.RunError(
            f"keepImages: {keep_images} keeps no image; set it to 1 or more, "
            "e.g. `pulumi config set keepImages 10`"
        )
    platform = config.require("platform")
    if not _PLATFORM.fullmatch(platform):
        raise pulumi.RunError(
            f"platform: {platform!r} is not os/arch; use e.g. linux/amd64 (Fargate) or linux/arm64"
        )
    admin_users, allowed_users = _user_lists(config, stack)
    admin_groups, allowed_groups = _group_lists(config, stack)
    lists = {"adminUsers": admin_users, "allowedUsers": allowed_users}
    _warn_near_the_config_ceiling(
        lists | {"adminGroups": admin_groups, "allowedGroups": allowed_groups}
    )
    if not admin_users and not admin_groups:
        raise pulumi.RunError(
            "adminUsers, adminGroups: both empty; the hub needs at least one admin, e.g. "
            "`pulumi config set --path 'adminUsers[0]' you@example.org` "
            "or `pulumi config set --path 'adminGroups[0]' hub-admins`"
        )
    # An empty name (the default) means one repository per stack; ECR takes only lower case.
    repository_name = config.require("repositoryName") or f"serverless-hub-{stack.lower()}"
    refuse_unless_aws_takes(
        "repositoryName",
        repository_name,
        "ecr",
        "CreateRepository",
        "repositoryName",
        made_from="" if config.require("repositoryName") else f"the stack name {stack!r}",
    )
    user_repository_name = f"{repository_name}-user"
    refuse_unless_aws_takes(
        "repositoryName",
        user_repository_name,
        "ecr",
        "CreateRepository",
        "repositoryName",
        made_from="repositoryName, for the users' image",
    )
    return StackSettings(
        repository_name=repository_name,
        user_repository_name=user_repository_name,
        force_delete=config.require_bool("forceDelete"),
        keep_images=keep_images,
        platform=platform,
        build_on_preview=config.require_bool("buildOnPreview"),
        admin_users=admin_users,
        allowed_users=allowed_users,
        admin_groups=admin_groups,
        allowed_groups=allowed_groups,
    )


def refuse_unless_aws_takes(
    key: str,
    value: str,
    service: str,
    operation: str,
    member: str,
    made_from: str = "",
    fix: str = "",
) -> None:
    """Stop at preview, in one line, on a value that the service would refuse at `pulumi up`."""
    problem = service_rules.value_problem(service, operation, member, value)
    if problem:
        origin = f" (made from {made_from})" if made_from else ""
        fix = fix or f"set another with `pulumi config set {key} <value>`"
        raise pulumi.RunError(f"{key}{origin}: {value!r} {problem}; {fix}")


def _user_lists(config: pulumi.Config, stack: str) -> tuple[list[str], list[str]]:
    """adminUsers and allowedUsers, cleaned and checked as the hub will use them."""
    try:
        admin_users = clean_user_list("adminUsers", config.get_object("adminUsers", []))
        allowed_users = clean_user_list("allowedUsers", config.get_object("allowedUsers", []))
        check_home_directories({"adminUsers": admin_users, "allowedUsers": allowed_users})
    except UserListError as error:
        raise pulumi.RunError(f"{error} (change it in Pulumi.{stack}.yaml)") from None
    return admin_users, allowed_users


def _group_lists(config: pulumi.Config, stack: str) -> tuple[list[str], list[str]]:
    """adminGroups and allowedGroups: Cognito groups whose members are admins, or may log in."""
    try:
        admin_groups = clean_group_list("adminGroups", config.get_object("adminGroups", []))
        allowed_groups = clean_group_list("allowedGroups", config.get_object("allowedGroups", []))
    except UserListError as error:
        raise pulumi.RunError(f"{error} (change it in Pulumi.{stack}.yaml)") from None
    return admin_groups, allowed_groups


def config_bytes(lists: dict[str, list[str]]) -> int:
    """About what the lists take of PULUMI_CONFIG: each list is JSON inside the config's JSON."""
    inner = {f"serverless-hub:{key}": json.dumps(names) for key, names in lists.items()}
    return len(f"PULUMI_CONFIG={json.dumps(inner)}")


def _warn_near_the_config_ceiling(lists: dict[str, list[str]]) -> None:
    size = config_bytes(lists)
    if size > CONFIG_CEILING_BYTES // 2:
        names = sum(len(entries) for entries in lists.values())
        pulumi.log.warn(
            f"adminUsers, allowedUsers, adminGroups, allowedGroups: {names:,} entries take about "
            f"{size:,} bytes of the {CONFIG_CEILING_BYTES:,} the Pulumi CLI can hand the program; "
            "past that `pulumi up` fails before anything runs. For thousands of people, use "
            "Cognito groups (allowedGroups): membership lives in Cognito, not in stack config"
        )
