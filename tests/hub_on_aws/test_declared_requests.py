"""Every resource the program declares, as the AWS calls that make it, held to the services' rules.

For several stacks (their names go into resource names) with groups and without, each declared
resource is turned into its API requests (local/aws_requests.py) and checked by service_rules:
botocore's model of each call, with the patterns it ships but does not enforce, the rules the
models state in prose, and the rules across calls (Cognito's alias rules, one subnet per zone).
"""

import pytest

import service_rules
from local.aws_requests import (
    TRANSLATIONS,
    account_of,
    requests_of,
    unread_inputs,
    untranslated,
)
from local.program import HubMocks, copy_project, run_program, stack_config
from tests.hub_on_aws.test_hub_on_aws import ON_AWS

HUB = {"hubDomain": "hub.example.org", "hostedZoneId": "Z0123456789ABC"}
NO_GROUPS = {"adminGroups": [], "allowedGroups": []}
STACKS = {
    "dev": stack_config("dev") | HUB,
    "prod": ON_AWS,
    # Thirty characters: the longest names the stack goes into still fit.
    "a-research-group-hub-in-europe": ON_AWS,
    "Prod": ON_AWS,
    "prod.eu": ON_AWS,
}


def checked(config: dict, stack: str, project_root=None) -> tuple[list[str], object]:
    mocks = HubMocks()
    options = {"project_root": project_root} if project_root else {}
    declared = run_program(config, stack=stack, mocks=mocks, **options)
    return service_rules.problems(requests_of(declared), account_of(mocks)), declared


@pytest.mark.parametrize(
    ("stack", "config"),
    [
        pytest.param(stack, config | extra, id=f"{stack}-{name}")
        for stack, config in STACKS.items()
        for name, extra in (("groups", {}), ("no-groups", NO_GROUPS))
    ],
)
def test_every_declared_resource_is_a_request_its_service_takes(stack, config):
    found, declared = checked(config, stack)
    assert found == []
    # Nothing escapes the check: every type is translated, and every input of each resource.
    assert untranslated(declared) == set()
    assert {
        (resource.type, resource.name, frozenset(unread_inputs(resource)))
        for resource in declared.resources
        if resource.type in TRANSLATIONS and unread_inputs(resource)
    } == set()
    assert len(requests_of(declared)) > 50


def test_the_stack_names_are_made_into_names_the_services_take():
    _, declared = checked(ON_AWS, "prod.eu")
    by_operation = {(r.service, r.operation): r.params for r in requests_of(declared)}
    repositories = sorted(
        r.params["repositoryName"]
        for r in requests_of(declared)
        if r.operation == "CreateRepository"
    )
    assert repositories == ["serverless-hub-prod.eu", "serverless-hub-prod.eu-user"]
    assert by_operation[("ecs", "RegisterTaskDefinition")]["family"] == "serverless-hub-prod-eu"
    domain = by_operation[("cognito-idp", "CreateUserPoolDomain")]["Domain"]
    assert domain == "serverless-hub-prod-eu-123456789012"
    _, declared = checked(ON_AWS, "Prod")
    repositories = sorted(
        r.params["repositoryName"]
        for r in requests_of(declared)
        if r.operation == "CreateRepository"
    )
    assert repositories == ["serverless-hub-prod", "serverless-hub-prod-user"]


@pytest.mark.parametrize(
    ("file", "changes", "reported"),
    [
        (
            "hub_on_aws/network.py",
            [('"Hub task: its port,', "\"The hub's task: its port,")],
            "CreateSecurityGroup Description: \"The hub's task: its port, from the load balancer "
            'only" is not at most 255 of',
        ),
        (
            # The pool as it was: preferred_username an alias, and set at each user's creation.
            "hub_on_aws/login.py",
            [
                (
                    "auto_verified_attributes=",
                    'alias_attributes=["preferred_username"], auto_verified_attributes=',
                ),
                (
                    '"email_verified": "true"}',
                    '"email_verified": "true", "preferred_username": username}',
                ),
            ],
            "preferred_username set at creation, while it is an alias of the pool",
        ),
        (
            "hub_on_aws/login.py",
            [
                (
                    "auto_verified_attributes=",
                    'alias_attributes=["email"], auto_verified_attributes=',
                )
            ],
            "a username in e-mail format, in a pool with email as an alias",
        ),
        (
            "hub_on_aws/load_balancer.py",
            [("idle_timeout=IDLE_TIMEOUT_SECONDS,", "idle_timeout=4500,")],
            "'4500' is not in 1-4000",
        ),
    ],
)
def test_a_change_the_service_would_refuse_is_reported(tmp_path, file, changes, reported):
    project = copy_project(tmp_path / "project")
    source = project / file
    for before, after in changes:
        assert before in source.read_text()
        source.write_text(source.read_text().replace(before, after))
    found, _ = checked(ON_AWS, "prod", project_root=project)
    assert any(reported in line for line in found), found


def test_subnets_in_one_zone_the_settings_would_let_through_are_reported():
    # The settings refuse them first (tests/hub_on_aws/test_hub_on_aws.py); this is the rule.
    mocks = HubMocks()
    declared = run_program(ON_AWS, mocks=mocks)
    zones = account_of(mocks)
    one_zone = service_rules.Account(dict.fromkeys(zones.zone_of_subnet, "eu-west-1a"))
    found = service_rules.problems(requests_of(declared), one_zone)
    assert any(
        "Subnets ['eu-west-1a', 'eu-west-1a', 'eu-west-1a']: only one subnet" in f for f in found
    )
    assert any("3 mount targets of fs-" in f and "in eu-west-1a" in f for f in found)


def test_every_pattern_of_the_calls_the_program_makes_compiles():
    _, declared = checked(ON_AWS, "prod")
    seen, patterns = set(), []

    def walk(shape):
        if shape.name in seen:
            return
        seen.add(shape.name)
        if "pattern" in shape.metadata:
            patterns.append(shape.metadata["pattern"])
        for child in [*getattr(shape, "members", {}).values(), getattr(shape, "member", None)]:
            if child is not None:
                walk(child)

    for request in requests_of(declared):
        walk(service_rules.input_shape(request.service, request.operation))
    assert len(patterns) > 50
    for pattern in patterns:
        service_rules._whole(pattern)
