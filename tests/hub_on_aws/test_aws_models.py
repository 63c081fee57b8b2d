"""The hub's ECS requests and IAM policies, checked offline against AWS's own published models.

ECS: the task definition and service, as the RegisterTaskDefinition and CreateService requests
the provider makes of them (local/aws_requests.py), held to service_rules: botocore's ECS model
and the rules ECS documents for Fargate; broken variants of each are reported. IAM: every policy
document passes parliament, an offline IAM linter.
"""

import copy
import json

import pytest
from botocore.validate import ParamValidator
from parliament import analyze_policy_string

import service_rules
from local.aws_requests import requests_for
from local.program import run_program
from service_rules import Account, Request
from tests.hub_on_aws.test_hub_on_aws import ON_AWS, TASK_DEFINITION, one, resources

SERVICE = "aws:ecs/service:Service"
ECS = service_rules._service_model("ecs")
REGISTER = service_rules.input_shape("ecs", "RegisterTaskDefinition")
CREATE = service_rules.input_shape("ecs", "CreateService")
NO_SUBNETS = Account({})


@pytest.fixture(scope="module")
def declared():
    return run_program(ON_AWS)


def requests_of(declared) -> tuple[Request, Request]:
    [task] = requests_for(one(declared, TASK_DEFINITION))
    [service] = requests_for(one(declared, SERVICE))
    return task, service


def problems(*requests: Request) -> list[str]:
    return service_rules.problems(list(requests), NO_SUBNETS)


def enum_values(value, shape, path: str = "") -> dict[str, tuple]:
    """Every value in a request whose shape has an enum: path -> (value, the enum)."""
    found = {}
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, member in value.items():
            if key in shape.members:
                found |= enum_values(member, shape.members[key], f"{path}.{key}")
    elif shape.type_name == "list" and isinstance(value, list):
        for index, member in enumerate(value):
            found |= enum_values(member, shape.member, f"{path}[{index}]")
    elif shape.type_name == "string" and shape.enum:
        found[path.lstrip(".")] = (value, shape.enum)
    return found


# ECS


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_the_task_definition_is_a_request_ecs_takes(platform):
    task, service = requests_of(run_program(ON_AWS | {"platform": platform}))
    assert problems(task, service) == []
    # The enum check reaches every field of ours that has one.
    assert set(enum_values(task.params, REGISTER)) == {
        "networkMode",
        "requiresCompatibilities[0]",
        "runtimePlatform.cpuArchitecture",
        "runtimePlatform.operatingSystemFamily",
        "volumes[0].efsVolumeConfiguration.transitEncryption",
        "volumes[0].efsVolumeConfiguration.authorizationConfig.iam",
        "volumes[1].efsVolumeConfiguration.transitEncryption",
        "volumes[1].efsVolumeConfiguration.authorizationConfig.iam",
        "containerDefinitions[0].portMappings[0].protocol",
        "containerDefinitions[0].logConfiguration.logDriver",
    }


def test_the_service_is_a_request_ecs_takes(declared):
    task, service = requests_of(declared)
    assert problems(task, service) == []
    assert enum_values(service.params, CREATE) == {
        "launchType": ("FARGATE", ECS.shape_for("LaunchType").enum),
        "networkConfiguration.awsvpcConfiguration.assignPublicIp": (
            "ENABLED",
            ECS.shape_for("AssignPublicIp").enum,
        ),
    }


DROP = object()


def broken(request: Request, path: str, value) -> Request:
    """A copy of the request with the value at a dotted path set, or removed if value is DROP."""
    params = copy.deepcopy(request.params)
    *parents, last = [int(key) if key.isdigit() else key for key in path.split(".")]
    at = params
    for key in parents:
        at = at[key]
    if value is DROP:
        del at[last]
    else:
        at[last] = value
    return Request(request.resource, request.service, request.operation, params, request.creates)


HUB = "containerDefinitions.0."
HOME_ON_EFS = "volumes.0.efsVolumeConfiguration."


@pytest.mark.parametrize(
    ("path", "value", "reported"),
    [
        # What the model refuses.
        (
            HUB + "portMappings.0.containerPort",
            "8000",
            "portMappings[0].containerPort, value: 8000",
        ),
        (HUB + "essential", "true", "parameter containerDefinitions[0].essential, value: true"),
        (HUB + "healthcheck", {}, 'Unknown parameter in containerDefinitions[0]: "healthcheck"'),
        ("cpu", 1024, "Invalid type for parameter cpu, value: 1024"),
        ("family", DROP, 'Missing required parameter in input: "family"'),
        ("family", "serverless-hub-prod.eu", "is not at most 255 letters, digits, underscores"),
        ("runtimePlatform.cpuArchitecture", "AMD64", "cpuArchitecture: 'AMD64' is not one of"),
        (HOME_ON_EFS + "transitEncryption", "enabled", "transitEncryption: 'enabled' is not"),
        (HUB + "logConfiguration.logDriver", "cloudwatch", "logDriver: 'cloudwatch' is not"),
        # What the model allows and ECS refuses.
        (HUB + "image", DROP, "container hub: no image"),
        ("networkMode", "bridge", "networkMode: 'For Amazon ECS tasks on Fargate"),
        ("memory", "256", "cpu, memory: 512/256 is no Fargate size"),
        (HOME_ON_EFS + "transitEncryption", "DISABLED", "volume home: IAM and access points"),
        (HUB + "portMappings.0.hostPort", 80, "with awsvpc, hostPort is containerPort"),
        (HUB + "mountPoints.0.sourceVolume", "homes", "mounts 'homes', which is no volume"),
        (HUB + "logConfiguration.options.awslogs-stream-prefix", DROP, "awslogs needs"),
        ("executionRoleArn", DROP, "secrets and logs need an executionRoleArn"),
    ],
)
def test_a_broken_task_definition_is_reported(declared, path, value, reported):
    task, _ = requests_of(declared)
    found = problems(broken(task, path, value))
    assert any(reported in problem for problem in found), found


def test_botocore_alone_does_not_see_a_missing_image(declared):
    # Why service_rules.fargate_tasks checks it: the model marks no member of a container required.
    task, _ = requests_of(declared)
    assert ECS.shape_for("ContainerDefinition").required_members == []
    without_image = broken(task, HUB + "image", DROP)
    assert not ParamValidator().validate(without_image.params, REGISTER).has_errors()


AWSVPC = "networkConfiguration.awsvpcConfiguration."


@pytest.mark.parametrize(
    ("path", "value", "reported"),
    [
        # Pulumi's shapes, left untranslated, are not the API's.
        (AWSVPC + "assignPublicIp", True, "awsvpcConfiguration.assignPublicIp, value: True"),
        ("desiredCount", 1.0, "Invalid type for parameter desiredCount, value: 1.0"),
        ("deploymentMinimumHealthyPercent", 0, 'Unknown parameter in input: "deploymentMin'),
        ("serviceName", DROP, 'Missing required parameter in input: "serviceName"'),
        # What the model or ECS refuses.
        ("launchType", "fargate", "launchType: 'fargate' is not one of"),
        ("launchType", "EC2", "launchType EC2: not the task's"),
        (AWSVPC + "subnets", [], "networkConfiguration: awsvpc needs 1 to 16 subnets"),
        ("loadBalancers.0.containerPort", 8888, "is no containerPort"),
    ],
)
def test_a_broken_or_untranslated_service_is_reported(declared, path, value, reported):
    task, service = requests_of(declared)
    found = problems(task, broken(service, path, value))
    assert any(reported in problem for problem in found), found


# IAM

# Where the program puts IAM policy documents: resource type -> (what it is, the input).
POLICIES = {
    "aws:iam/role:Role": ("trust", "assumeRolePolicy"),
    "aws:iam/rolePolicy:RolePolicy": ("inline", "policy"),
    "aws:efs/fileSystemPolicy:FileSystemPolicy": ("file system", "policy"),
}


def policy_documents(declared) -> dict[str, str]:
    return {
        f"{r.name} {what}": r.inputs[key]
        for type_, (what, key) in POLICIES.items()
        for r in resources(declared, type_)
    }


def findings(document: str, community: bool = False) -> list[tuple]:
    """parliament's findings of every severity (its CLI would hide INFO and MUTE ones)."""
    policy = analyze_policy_string(
        document, ignore_private_auditors=True, include_community_auditors=community
    )
    return [(f.issue, f.detail, f.location.get("actions")) for f in policy.findings]


# parliament lints identity policies and wants a Resource in every statement. A role's trust
# policy has none: IAM refuses one there ("Has prohibited field Resource"). So parliament's one
# finding on it is this, and it checks nothing further (duo-labs/parliament#229, open).
NO_RESOURCE = ("MALFORMED", "Statement contains neither Resource nor NotResource", None)


def trust_with_its_role(trust: str, role_arn: str) -> str:
    """A trust policy with the role it guards as Resource, for parliament to check the rest."""
    policy = json.loads(trust)
    policy["Statement"] = [statement | {"Resource": role_arn} for statement in policy["Statement"]]
    return json.dumps(policy)


def checkable_documents(declared) -> dict[str, str]:
    roles = {role.name: role.state["arn"] for role in resources(declared, "aws:iam/role:Role")}
    documents = policy_documents(declared)
    for role, arn in roles.items():
        documents[f"{role} trust"] = trust_with_its_role(documents[f"{role} trust"], arn)
    return documents


def test_every_policy_document_is_checked(declared):
    assert sorted(policy_documents(declared)) == [
        "hub file system",
        "hub-execution inline",
        "hub-execution trust",
        "hub-servers-execution inline",
        "hub-servers-execution trust",
        # The servers' task role has no policy of its own: nothing to check but its trust.
        "hub-servers-task trust",
        "hub-task inline",
        "hub-task trust",
    ]
    anywhere = [
        value
        for resource in declared.resources
        for value in resource.inputs.values()
        if isinstance(value, str) and '"Statement"' in value
    ]
    assert sorted(anywhere) == sorted(policy_documents(declared).values())


def test_trust_policies_have_only_the_finding_every_trust_policy_has(declared):
    trusts = {k: v for k, v in policy_documents(declared).items() if k.endswith(" trust")}
    assert {where: findings(trust) for where, trust in trusts.items()} == dict.fromkeys(
        trusts, [NO_RESOURCE]
    )


def test_policies_have_no_parliament_findings(declared):
    documents = checkable_documents(declared)
    reported = {where: findings(document) for where, document in documents.items()}
    assert reported == dict.fromkeys(documents, [])


def test_the_community_auditors_find_only_the_credentials_ecs_needs(declared):
    documents = checkable_documents(declared)
    reported = {where: findings(doc, community=True) for where, doc in documents.items()}
    # Each is what these roles are for and none can be narrowed further: ECS gets each role's
    # credentials (AssumeRole, by ecs-tasks.amazonaws.com only), an ECR token to pull the image
    # as the execution roles (GetAuthorizationToken has no resource-level permissions), and the
    # hub passes the servers' two roles, and no other, to ECS tasks only.
    assume_role = [("CREDENTIALS_EXPOSURE", "", ["sts:assumerole"])]
    ecr_token = [("CREDENTIALS_EXPOSURE", "", ["ecr:getauthorizationtoken"])]
    assert reported == {
        "hub-execution trust": assume_role,
        "hub-task trust": assume_role,
        "hub-servers-execution trust": assume_role,
        "hub-servers-task trust": assume_role,
        "hub-execution inline": ecr_token,
        "hub-servers-execution inline": ecr_token,
        "hub-task inline": [("PERMISSIONS_MANAGEMENT_ACTIONS", "", ["iam:passrole"])],
        "hub file system": [],
    }


@pytest.mark.parametrize(
    ("before", "after", "issue"),
    [
        ("elasticfilesystem:ClientMount", "elasticfilesystem:ClientMnt", "UNKNOWN_ACTION"),
        (":file-system/", ":filesystem/", "RESOURCE_MISMATCH"),
        ('"Allow"', '"allow"', "MALFORMED"),
    ],
)
def test_parliament_reports_a_broken_policy(declared, before, after, issue):
    document = policy_documents(declared)["hub-task inline"]
    assert before in document
    assert issue in {finding[0] for finding in findings(document.replace(before, after))}
