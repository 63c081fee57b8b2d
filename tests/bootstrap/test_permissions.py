"""What CI's roles may do, against what the main program needs and what IAM would accept.

The main program runs under mocks; its types map to the CloudFormation registry schemas' handler
permissions (bootstrap/derive.py). The bootstrap's own documents, as it declares them, must allow
all of that and no more, in the shape IAM evaluates: each action with the resource types and
condition keys AWS's service authorization reference gives it. Each rule has a test that breaks it.
"""

import copy
import fnmatch
import json
import re
from dataclasses import replace

import botocore.session
import pytest
from parliament import analyze_policy_string, iam_definition

from bootstrap import derive, policies
from local.program import DeclaredResource, Invoke, run_program
from tests.bootstrap.conftest import ACCOUNT, BOUNDARY_ARN, REGION, statements
from tests.hub_on_aws.test_hub_on_aws import ON_AWS

# Schema entries IAM does not know by that name, and the action IAM checks instead (the S3 API
# reference's "Permissions" of each operation); that one is in the deploy role already.
NOT_IAM_ACTIONS = {
    "s3:DeleteBucketAnalyticsConfiguration": "s3:PutAnalyticsConfiguration",
    "s3:DeleteBucketCors": "s3:PutBucketCORS",
    "s3:DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "s3:DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "s3:DeleteBucketMetricsConfiguration": "s3:PutMetricsConfiguration",
    "s3:DeleteBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutBucketReplication": "s3:PutReplicationConfiguration",
    "s3:PutObjectLockConfiguration": "s3:PutBucketObjectLockConfiguration",
    # A server access log's operation name (log delivery to S3), not an action.
    "s3:REST.PUT.OBJECT": "s3:PutObject",
    # Not in the 2026 reference; the bucket has no metadata table, so nothing calls it.
    "s3:UpdateBucketMetadataAnnotationTableConfiguration": None,
}
WRITE_LEVELS = {"Write", "Permissions management", "Tagging"}


@pytest.fixture(scope="module")
def hub():
    return run_program(ON_AWS | {"permissionsBoundaryArn": BOUNDARY_ARN})


@pytest.fixture(scope="module")
def permissions():
    return policies.load()


# A small IAM evaluator: Allow statements only, actions case-insensitive, ARNs as IAM globs.


def _matches(pattern: str, value: str, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def listed(value) -> list:
    return [value] if isinstance(value, str) else value


def allows(documents: list[str], action: str, arn: str = "*") -> bool:
    """Whether some statement allows this action on this resource (conditions left out)."""
    return any(
        statement["Effect"] == "Allow"
        and any(_matches(a, action, ignore_case=True) for a in listed(statement["Action"]))
        and any(_matches(r, arn) for r in listed(statement["Resource"]))
        for statement in statements(documents)
    )


def allowed_actions(documents: list[str]) -> set[str]:
    return {a for s in statements(documents) if s["Effect"] == "Allow" for a in listed(s["Action"])}


def missing(needed: dict[str, set[str]], documents: list[str]) -> dict[str, list[str]]:
    """What `pulumi up` needs that the documents do not allow: action -> what needs it."""
    have = {action.lower() for action in allowed_actions(documents)}
    return {a: sorted(why) for a, why in sorted(needed.items()) if a.lower() not in have}


def needed_by(declared) -> dict[str, set[str]]:
    """The derivation's set for one run, less what IAM does not know or the role must not have."""
    needed = {}
    for action, why in derive.required(declared).items():
        needed.setdefault(derive.canonical(action), set()).update(why)
    return {
        a: w
        for a, w in needed.items()
        if derive.privilege(a) is not None and a not in derive.WITHHELD
    }


# 1. Coverage: everything the main program's `pulumi up` needs.


def test_the_deploy_role_allows_what_pulumi_up_of_the_hub_needs(hub, deploy_documents):
    needed = needed_by(hub)
    assert len(needed) > 250
    assert missing(needed, deploy_documents) == {}


def test_coverage_names_an_action_the_deploy_role_lacks(hub, deploy_documents):
    documents = [
        document.replace('"ecs:CreateService"', '"ecs:CreateServic"')
        for document in deploy_documents
    ]
    assert documents != deploy_documents
    assert missing(needed_by(hub), documents) == {
        "ecs:CreateService": ["aws:ecs/service:Service (AWS::ECS::Service)"]
    }


def test_a_declared_type_without_a_mapping_is_named(hub):
    added = DeclaredResource(type="aws:ec2/vpc:Vpc", name="x", inputs={}, secret_inputs=frozenset())
    with pytest.raises(derive.Unmapped) as raised:
        derive.required(replace(hub, resources=[*hub.resources, added]))
    assert str(raised.value) == (
        "aws:ec2/vpc:Vpc: the program declares it, but no IAM actions are known for it: add it "
        "to REGISTRY_TYPES (its CloudFormation type) or EXTRA_ACTIONS in bootstrap/derive.py, "
        "then run `make permissions`"
    )


def test_a_look_up_without_a_mapping_is_named(hub):
    added = Invoke(token="aws:ec2/getVpcs:getVpcs", args={})
    with pytest.raises(derive.Unmapped, match=r"^aws:ec2/getVpcs:getVpcs: the program calls it"):
        derive.required(replace(hub, invokes=[*hub.invokes, added]))


def test_components_need_nothing_and_every_provider_type_is_mapped(hub):
    declared = {r.type for r in hub.resources if r.custom}
    assert declared <= set(derive.REGISTRY_TYPES) | set(derive.EXTRA_ACTIONS)
    components = {r.type for r in hub.resources if not r.custom}
    assert components and all(t.startswith("serverless-hub:") for t in components)


def test_permissions_json_is_what_the_derivation_gives_today(permissions):
    # Stale after a change to the program or the tables: `make permissions` writes it again.
    assert permissions == json.loads(json.dumps(derive.derive())), "run `make permissions`"


def test_every_mapping_names_a_schema_with_handlers():
    for pulumi_type, registry_type in derive.REGISTRY_TYPES.items():
        assert derive.registry_actions(registry_type), pulumi_type


def test_actions_beyond_the_schemas_are_iam_actions_with_a_source():
    for pulumi_type, (actions, source) in derive.EXTRA_ACTIONS.items():
        assert source, pulumi_type
        for action in actions:
            assert derive.privilege(action) is not None, (pulumi_type, action)
            assert derive.canonical(action) == action


def test_look_ups_are_api_operations_and_iam_actions():
    session = botocore.session.get_session()
    for token, actions in derive.INVOKES.items():
        for action in actions:
            service, operation = action.split(":")
            assert operation in session.get_service_model(service).operation_names, token
            assert derive.privilege(action) is not None, token


def test_what_the_schemas_list_but_iam_does_not_know_is_granted_by_its_iam_name(permissions):
    assert set(permissions["notInTheReference"]) == set(NOT_IAM_ACTIONS)
    for name, instead in NOT_IAM_ACTIONS.items():
        assert derive.privilege(name) is None, name
        assert instead is None or instead in permissions["deploy"], name


def test_what_is_withheld_is_needed_by_a_schema_and_not_allowed(hub, deploy_documents, permissions):
    needed = {derive.canonical(a) for a in derive.required(hub)}
    assert set(permissions["withheld"]) == set(derive.WITHHELD) <= needed
    for action, why in derive.WITHHELD.items():
        assert why and not allows(deploy_documents, action), action
    assert "iam:DeleteRolePermissionsBoundary" in derive.WITHHELD


# 2. The shape IAM evaluates: resource types, ARN formats, condition keys.


def sample_arn(template: str, action: str) -> str:
    """A real-looking ARN of a format, with names as the bootstrap expects them for the action."""
    names = {"Partition": "aws", "Region": REGION, "Account": ACCOUNT}
    for variable, scope in policies.name_scopes("serverless-hub", action).items():
        names[variable] = scope.replace("*", "x0123abc")
    return re.sub(r"\$\{(\w+)\}", lambda m: names.get(m[1], "x0123abc"), template)


def resource_type_breaks(documents: list[str]) -> list[str]:
    """Actions scoped to resources that leave out a resource type IAM checks them against.

    Each required type must match; of optional ones (alternatives), at least one.
    """
    breaks = []
    for statement in statements(documents):
        resources = listed(statement["Resource"])
        if resources == ["*"]:
            continue
        for action in listed(statement["Action"]):
            types = {k: v for k, v in derive.privilege(action)["resource_types"].items() if k}
            if not types:
                breaks.append(f"{action}: takes only '*', not {resources}")
            unmatched = [
                f"{name} ({_format_of(action, name)})"
                for name in types
                if not any(
                    _matches(r, sample_arn(_format_of(action, name), action)) for r in resources
                )
            ]
            required = [f"{name} (" for name in types if types[name]["required"]]
            for name in unmatched:
                if any(name.startswith(r) for r in required):
                    breaks.append(f"{action}: no resource matches its {name}")
            if not required and len(unmatched) == len(types):
                breaks.append(f"{action}: no resource matches any of {unmatched}")
    return breaks


def _format_of(action: str, resource_type: str) -> str:
    service = derive.reference()[action.split(":")[0]]
    return {n.lower(): e["arn"] for n, e in service["resources"].items()}[resource_type.lower()]


def condition_breaks(documents: list[str]) -> list[str]:
    """Condition keys an action in the statement does not support (IAM then never matches)."""
    breaks = []
    for statement in statements(documents):
        keys = {key for values in statement.get("Condition", {}).values() for key in values}
        for action in listed(statement["Action"]):
            types = derive.privilege(action)["resource_types"].values()
            supported = {key for t in types for key in t["condition_keys"]}
            breaks += [f"{action}: no condition key {key}" for key in sorted(keys - supported)]
    return breaks


@pytest.mark.parametrize("role", ["deploy", "preview", "boundary"])
def test_each_action_has_the_resource_types_and_condition_keys_iam_gives_it(
    role, deploy_documents, preview_documents, boundary_document
):
    documents = {
        "deploy": deploy_documents,
        "preview": preview_documents,
        "boundary": [boundary_document],
    }[role]
    assert resource_type_breaks(documents) == []
    assert condition_breaks(documents) == []


def test_a_resource_type_left_out_is_found(deploy_documents):
    # ec2:CreateSecurityGroup acts on the new group (required) and its VPC: drop the group's ARN.
    [statement] = [
        s for s in statements(deploy_documents) if "ec2:CreateSecurityGroup" in listed(s["Action"])
    ]
    broken = copy.deepcopy(statement) | {
        "Action": ["ec2:CreateSecurityGroup"],
        "Resource": [r for r in statement["Resource"] if ":security-group/" not in r],
    }
    document = json.dumps({"Version": "2012-10-17", "Statement": [broken]})
    assert resource_type_breaks([document]) == [
        "ec2:CreateSecurityGroup: no resource matches its security-group "
        "(arn:${Partition}:ec2:${Region}:${Account}:security-group/${SecurityGroupId})"
    ]


def test_a_condition_key_the_action_lacks_is_found():
    statement = {
        "Effect": "Allow",
        "Action": ["iam:CreateRole", "iam:TagRole"],
        "Resource": f"arn:aws:iam::{ACCOUNT}:role/serverless-hub/*",
        "Condition": {"StringEquals": {"iam:PermissionsBoundary": BOUNDARY_ARN}},
    }
    document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
    assert condition_breaks([document]) == ["iam:TagRole: no condition key iam:PermissionsBoundary"]


def arns_of(hub) -> dict[str, str]:
    """The ARNs AWS gives the hub's resources (the mocks make them in AWS's formats)."""
    task = next(r for r in hub.resources if r.type == "aws:ecs/taskDefinition:TaskDefinition")
    outputs = {name: output.value for name, output in hub.outputs.items()}
    secret = json.loads(task.inputs["containerDefinitions"])[0]["secrets"][0]["valueFrom"]
    return {
        "aws:ecr/repository:Repository": outputs["repositoryArn"],
        "aws:iam/role:Role": task.inputs["taskRoleArn"],
        "aws:secretsmanager/secret:Secret": secret,
        "aws:ecs/cluster:Cluster": (
            f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{outputs['clusterName']}"
        ),
        "aws:ecs/taskDefinition:TaskDefinition": (
            f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{task.inputs['family']}:1"
        ),
        "aws:efs/fileSystem:FileSystem": (
            f"arn:aws:elasticfilesystem:{REGION}:{ACCOUNT}:file-system/{outputs['fileSystemId']}"
        ),
        "aws:cloudwatch/logGroup:LogGroup": (
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{outputs['logGroupName']}"
        ),
    }


def test_the_scoped_arns_match_the_hubs_real_arns(hub, deploy_documents):
    checked = 0
    for pulumi_type, arn in arns_of(hub).items():
        for action in derive.registry_actions(derive.REGISTRY_TYPES[pulumi_type]):
            action = derive.canonical(action)
            if action in derive.WITHHELD or derive.privilege(action) is None:
                continue
            # Only the actions that act on a resource of this ARN's format.
            formats = [re.sub(r"\$\{\w+\}", "*", f) for f in derive.resource_arns(action)]
            if any(_matches(f, arn) for f in formats):
                assert allows(deploy_documents, action, arn), (action, arn)
                checked += 1
    assert checked > 60


def test_a_name_outside_the_projects_is_out_of_reach(deploy_documents):
    other = f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/someone-else"
    assert not allows(deploy_documents, "ecr:DeleteRepository", other)
    ours = other.replace("someone-else", "serverless-hub-dev")
    assert allows(deploy_documents, "ecr:DeleteRepository", ours)
    other_region = f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/hub-0123abc"
    assert not allows(deploy_documents, "ecs:DeleteCluster", other_region)


# 3. Least privilege: no wildcard actions, IAM only with its conditions, CI's roles out of reach.


@pytest.mark.parametrize("role", ["deploy", "preview", "boundary"])
def test_no_action_has_a_wildcard(role, deploy_documents, preview_documents, boundary_document):
    documents = {
        "deploy": deploy_documents,
        "preview": preview_documents,
        "boundary": [boundary_document],
    }[role]
    actions = allowed_actions(documents)
    assert actions
    assert [a for a in actions if "*" in a or "?" in a] == []
    assert [s for s in statements(documents) if s.get("NotAction") or s.get("NotResource")] == []


def iam_rule_breaks(documents: list[str]) -> list[str]:
    """The issue's rules for IAM's own actions in the deploy role."""
    breaks = []
    for statement in statements(documents):
        conditions = statement.get("Condition", {})
        condition = conditions.get("StringEquals", {}) | conditions.get("ArnEquals", {})
        for action in listed(statement["Action"]):
            if action in ("iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy") and (
                condition.get("iam:PermissionsBoundary") != BOUNDARY_ARN
            ):
                breaks.append(f"{action} without iam:PermissionsBoundary = the boundary")
            passes_to_tasks = condition.get("iam:PassedToService") == "ecs-tasks.amazonaws.com"
            if action == "iam:PassRole" and not passes_to_tasks:
                breaks.append("iam:PassRole without iam:PassedToService = ecs-tasks.amazonaws.com")
            if action.startswith(("iam:", "sts:")) and "*" in listed(statement["Resource"]):
                breaks.append(f"{action} on every resource")
    return breaks


def test_iam_actions_keep_the_boundary_and_pass_roles_to_ecs_tasks_only(deploy_documents):
    assert iam_rule_breaks(deploy_documents) == []
    iam = {a for a in allowed_actions(deploy_documents) if a.startswith("iam:")}
    assert {"iam:CreateRole", "iam:PutRolePolicy", "iam:AttachRolePolicy", "iam:PassRole"} <= iam
    assert not [a for a in allowed_actions(deploy_documents) if a.startswith("sts:")]


@pytest.mark.parametrize(
    ("action", "found"),
    [
        ("iam:CreateRole", "iam:CreateRole without iam:PermissionsBoundary = the boundary"),
        ("iam:PutRolePolicy", "iam:PutRolePolicy without iam:PermissionsBoundary = the boundary"),
        ("iam:PassRole", "iam:PassRole without iam:PassedToService = ecs-tasks.amazonaws.com"),
    ],
)
def test_an_iam_action_without_its_condition_is_found(deploy_documents, action, found):
    broken = []
    for document in deploy_documents:
        policy = json.loads(document)
        for statement in policy["Statement"]:
            if action in listed(statement["Action"]):
                statement.pop("Condition")
        broken.append(json.dumps(policy))
    assert found in iam_rule_breaks(broken)


def test_the_deploy_role_cannot_touch_ci_s_roles_or_the_boundary(bootstrapped, deploy_documents):
    for name in ("previewRoleArn", "deployRoleArn"):
        arn = bootstrapped.outputs[name].value
        for action in ("iam:UpdateAssumeRolePolicy", "iam:PutRolePolicy", "iam:DeleteRole"):
            assert not allows(deploy_documents, action, arn), (action, arn)
    for action in ("iam:CreatePolicyVersion", "iam:DeletePolicy", "iam:SetDefaultPolicyVersion"):
        assert not allows(deploy_documents, action, BOUNDARY_ARN)


def test_roles_are_passed_and_made_only_under_the_projects_path(deploy_documents):
    for statement in statements(deploy_documents):
        if {"iam:PassRole", "iam:CreateRole"} & set(listed(statement["Action"])):
            assert listed(statement["Resource"]) == [
                f"arn:aws:iam::{ACCOUNT}:role/serverless-hub/*"
            ]


def write_levels(documents: list[str]) -> list[str]:
    return sorted(
        a for a in allowed_actions(documents) if derive.privilege(a)["access_level"] in WRITE_LEVELS
    )


def test_the_preview_role_only_reads(preview_documents, permissions):
    assert write_levels(preview_documents) == []
    assert allowed_actions(preview_documents) == set(permissions["preview"])


def test_a_write_in_the_preview_role_is_found(preview_documents):
    broken = [preview_documents[0].replace('"ecr:BatchGetImage"', '"ecr:PutImage"')]
    assert write_levels(broken) == ["ecr:PutImage"]


def test_the_preview_role_reads_what_a_preview_looks_up_and_pulls(hub, preview_documents):
    for invoke in hub.invokes:
        for action in derive.INVOKES[invoke.token]:
            assert allows(preview_documents, action), (invoke.token, action)
    repository = hub.outputs["repositoryArn"].value
    assert allows(preview_documents, "ecr:BatchGetImage", repository)


# 4. The boundary: what the hub's roles may ever do.


# The one IAM action a hub role may have: the hub hands its users' servers their two roles, as
# RunTask needs, and the boundary lets a role go to ECS tasks only (hub_on_aws/service.py).
PASS_TO_ECS_TASKS = {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def boundary_breaks(boundary: str, given: dict[str, set[str]]) -> list[str]:
    actions = allowed_actions([boundary])
    breaks = [
        f"{a}: the boundary grants it"
        for a in sorted(actions)
        if a.startswith(("iam:", "sts:", "organizations:")) and a != "iam:PassRole"
    ]
    breaks += [
        f"iam:PassRole: the boundary grants it {s.get('Condition')} on {s['Resource']}"
        for s in statements([boundary])
        if "iam:PassRole" in listed(s["Action"])
        and (
            s.get("Condition") != PASS_TO_ECS_TASKS
            or not str(s["Resource"]).endswith(":role/serverless-hub/*")
        )
    ]
    breaks += [
        f"{a}: {sorted(why)} use it, the boundary does not grant it"
        for a, why in sorted(given.items())
        if a not in actions
    ]
    return breaks


def test_the_boundary_grants_what_the_hubs_roles_use_and_no_iam_sts_or_organizations(
    hub, boundary_document
):
    assert boundary_breaks(boundary_document, derive.hub_role_actions(hub)) == []


def test_a_hub_role_wanting_more_than_the_boundary_is_found(hub, boundary_document):
    given = derive.hub_role_actions(hub) | {"iam:CreateUser": {"hub-spawner inline policy"}}
    assert boundary_breaks(boundary_document, given) == [
        "iam:CreateUser: ['hub-spawner inline policy'] use it, the boundary does not grant it"
    ]


def test_the_boundary_lets_a_role_go_to_ecs_tasks_only(hub, boundary_document):
    [passing] = [
        s for s in statements([boundary_document]) if "iam:PassRole" in listed(s["Action"])
    ]
    assert listed(passing["Action"]) == ["iam:PassRole"]
    assert passing["Condition"] == PASS_TO_ECS_TASKS
    assert passing["Resource"] == "arn:aws:iam::123456789012:role/serverless-hub/*"
    wider = boundary_document.replace('"ecs-tasks.amazonaws.com"', '"lambda.amazonaws.com"')
    assert boundary_breaks(wider, derive.hub_role_actions(hub))


# 5. parliament, IAM's offline linter, on every permission policy.


def findings(document: str) -> list[tuple]:
    policy = analyze_policy_string(document, ignore_private_auditors=True)
    return [(f.issue, f.detail or f.location.get("actions")) for f in policy.findings]


def _parliament_knows(action: str) -> bool:
    prefix, name = action.split(":")
    return any(
        p["privilege"].lower() == name.lower()
        for s in iam_definition
        if s["prefix"] == prefix
        for p in s["privileges"]
    )


def newer_than_parliament(finding: tuple) -> bool:
    """A finding only because parliament's data (2025) predates AWS's current reference (2026)."""
    issue, detail = finding
    if issue == "UNKNOWN_ACTION":
        action = re.fullmatch(r"Unknown action (\S+)", detail)[1]
        return derive.privilege(action) is not None and not _parliament_knows(action)
    if issue == "UNKNOWN_CONDITION_FOR_ACTION":
        key, action = re.fullmatch(r"Unknown condition (\S+) for action (\S+)", detail).groups()
        return key in derive.condition_keys(action)
    return False


def test_parliament_finds_nothing_but_what_its_older_data_lacks(
    deploy_documents, preview_documents, boundary_document
):
    documents = [*deploy_documents, *preview_documents, boundary_document]
    reported = [f for document in documents for f in findings(document)]
    assert [f for f in reported if not newer_than_parliament(f)] == []
    # Few: AWS's newest actions, and iam:PermissionsBoundary on five more role actions.
    assert len(reported) <= 25, reported


def test_parliament_reports_a_broken_deploy_policy(deploy_documents):
    document = deploy_documents[0]
    assert ":repository/serverless-hub-*" in document
    broken = document.replace(":repository/serverless-hub-*", ":repositories/serverless-hub-*")
    assert "RESOURCE_MISMATCH" in {finding[0] for finding in findings(broken)}


# parliament knows SAML providers but not OIDC ones, nor their `<issuer>:aud`/`:sub` keys (IAM's
# "Available keys for OIDC federation"): those three findings, and nothing else.
OIDC_UNKNOWN_TO_PARLIAMENT = [
    (
        "UNKNOWN_FEDERATION_SOURCE",
        f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com",
    ),
    (
        "UNKNOWN_CONDITION_FOR_ACTION",
        "Unknown condition token.actions.githubusercontent.com:aud for action "
        "sts:AssumeRoleWithWebIdentity",
    ),
    (
        "UNKNOWN_CONDITION_FOR_ACTION",
        "Unknown condition token.actions.githubusercontent.com:sub for action "
        "sts:AssumeRoleWithWebIdentity",
    ),
]


def test_trust_policies_check_out_with_their_role_as_resource(bootstrapped):
    for role in (r for r in bootstrapped.resources if r.type == "aws:iam/role:Role"):
        trust = json.loads(role.inputs["assumeRolePolicy"])
        arn = f"arn:aws:iam::{ACCOUNT}:role/{role.inputs['name']}"
        # IAM refuses a Resource in a trust policy; parliament checks nothing further without one.
        trust["Statement"] = [s | {"Resource": arn} for s in trust["Statement"]]
        assert findings(json.dumps(trust)) == OIDC_UNKNOWN_TO_PARLIAMENT, role.name


def test_statements_are_the_fewest_that_fit(deploy_documents, permissions):
    # Every action once, in a statement of its own resources and condition.
    actions = [a for s in statements(deploy_documents) for a in listed(s["Action"])]
    assert sorted(actions) == sorted(permissions["deploy"])
    assert all(fnmatch.fnmatchcase(a, "*:*") for a in actions)
