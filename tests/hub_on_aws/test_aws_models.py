"""The hub's ECS requests and IAM policies, checked offline against AWS's own published models.

ECS: the task definition and service the program declares, as the RegisterTaskDefinition and
CreateService requests the provider makes of them, pass botocore's validator against the ECS API
model botocore ships; every enum value is one the model lists; and the rules ECS documents but the
model cannot carry hold. IAM: every policy document passes parliament, an offline IAM linter.
"""

import copy
import json

import botocore.session
import pytest
from botocore.model import Shape
from botocore.validate import ParamValidator
from parliament import analyze_policy_string

from local.program import run_program
from tests.hub_on_aws.test_hub_on_aws import ON_AWS, TASK_DEFINITION, one, resources

SERVICE = "aws:ecs/service:Service"
ECS = botocore.session.get_session().get_service_model("ecs")
REGISTER = ECS.operation_model("RegisterTaskDefinition").input_shape
CREATE = ECS.operation_model("CreateService").input_shape

# Pulumi's inputs with no API parameter: what the provider itself does (waiting, keeping old
# revisions, redeploying). They are dropped; every other input must carry the API's own name.
PULUMI_ONLY = {
    TASK_DEFINITION: {"skipDestroy", "trackLatest"},
    SERVICE: {"waitForSteadyState", "forceNewDeployment", "forceDelete", "triggers"},
}


@pytest.fixture(scope="module")
def declared():
    return run_program(ON_AWS)


# Pulumi's inputs -> the API's requests. Names the two share pass through as they are, so an input
# whose Pulumi name or shape is not the API's (volumes' hostPath, tags as a map) is reported.


def whole(number: float) -> int:
    """The engine carries every number as a double (8000.0); the API takes integers."""
    assert float(number).is_integer(), number
    return int(number)


def register_task_definition(inputs: dict) -> dict:
    """aws.ecs.TaskDefinition's inputs as RegisterTaskDefinition's request."""
    request = {k: v for k, v in inputs.items() if k not in PULUMI_ONLY[TASK_DEFINITION]}
    # Pulumi takes the container definitions as the API's own JSON, in one string.
    request["containerDefinitions"] = json.loads(request["containerDefinitions"])
    return request


def create_service(inputs: dict, service_name: str) -> dict:
    """aws.ecs.Service's inputs as CreateService's request."""
    request = {k: v for k, v in inputs.items() if k not in PULUMI_ONLY[SERVICE]}
    # Pulumi flattens deploymentConfiguration's members into the service, prefixed.
    minimum = request.pop("deploymentMinimumHealthyPercent")
    maximum = request.pop("deploymentMaximumPercent")
    circuit_breaker = request.pop("deploymentCircuitBreaker")
    # Pulumi's networkConfiguration is the API's awsvpcConfiguration, with a bool for the address.
    network = request.pop("networkConfiguration")
    public_ip = "ENABLED" if network.get("assignPublicIp") else "DISABLED"
    return request | {
        # The provider names the service (Pulumi's `name`, autonamed); the mock's is an output.
        "serviceName": service_name,
        "desiredCount": whole(request["desiredCount"]),
        "healthCheckGracePeriodSeconds": whole(request["healthCheckGracePeriodSeconds"]),
        "deploymentConfiguration": {
            "minimumHealthyPercent": whole(minimum),
            "maximumPercent": whole(maximum),
            "deploymentCircuitBreaker": circuit_breaker,
        },
        "networkConfiguration": {"awsvpcConfiguration": network | {"assignPublicIp": public_ip}},
        "loadBalancers": [
            target | {"containerPort": whole(target["containerPort"])}
            for target in request["loadBalancers"]
        ],
    }


def requests_of(declared) -> tuple[dict, dict]:
    task = register_task_definition(one(declared, TASK_DEFINITION).inputs)
    service = create_service(one(declared, SERVICE).inputs, declared.outputs["serviceName"].value)
    return task, service


# What the model says


def model_errors(request: dict, shape: Shape) -> list[str]:
    """botocore's report: types, required members, unknown names, lengths and ranges."""
    report = ParamValidator().validate(request, shape)
    return [report.generate_report()] if report.has_errors() else []


def enum_values(value, shape: Shape, path: str = "") -> dict[str, tuple]:
    """Every value in a request whose shape has an enum: path -> (value, the enum).

    botocore's validator leaves enums to the service; the model lists them all the same.
    """
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


def enum_errors(request: dict, shape: Shape) -> list[str]:
    values = enum_values(request, shape).items()
    return [f"{path}: {v!r} is not one of {enum}" for path, (v, enum) in values if v not in enum]


# What ECS documents and the model cannot carry (quotes are from the model's documentation).


def task_rule_breaks(task: dict) -> list[str]:
    fargate = "FARGATE" in task.get("requiresCompatibilities", [])
    awsvpc = task.get("networkMode") == "awsvpc"
    volumes = [volume["name"] for volume in task.get("volumes", [])]
    breaks = []
    if fargate and not awsvpc:
        breaks.append("networkMode: 'For Amazon ECS tasks on Fargate, awsvpc is required'")
    if fargate and not (task.get("cpu") and task.get("memory")):
        breaks.append("cpu, memory: 'If you're using Fargate, this field is required'")
    for volume in task.get("volumes", []):
        efs = volume.get("efsVolumeConfiguration", {})
        if efs.get("authorizationConfig") and efs.get("transitEncryption") != "ENABLED":
            breaks.append(f"volume {volume['name']}: IAM and access points need TLS")
    awslogs_needs = {"awslogs-group", "awslogs-region"}
    if fargate:  # "awslogs-stream-prefix  Required: Yes, when using Fargate."
        awslogs_needs.add("awslogs-stream-prefix")
    for container in task["containerDefinitions"]:
        name = container.get("name")
        # The model requires no member here; ECS: "Container.image should not be null or empty".
        for key in ("name", "image"):
            if not container.get(key):
                breaks.append(f"container {name}: no {key}")
        for mapping in container.get("portMappings", []):
            port = mapping.get("containerPort")
            if awsvpc and mapping.get("hostPort", port) != port:
                breaks.append(f"container {name}: with awsvpc, hostPort is containerPort or unset")
        for mount in container.get("mountPoints", []):
            if mount.get("sourceVolume") not in volumes:
                breaks.append(f"container {name}: mounts {mount.get('sourceVolume')!r}, no volume")
        log = container.get("logConfiguration", {})
        if log.get("logDriver") == "awslogs" and awslogs_needs - set(log.get("options", {})):
            breaks.append(f"container {name}: awslogs needs {sorted(awslogs_needs)}")
        # ECS's agent reads the secrets and writes the logs as the execution role.
        if (container.get("secrets") or log) and not task.get("executionRoleArn"):
            breaks.append(f"container {name}: secrets and logs need an executionRoleArn")
    return breaks


def service_rule_breaks(service: dict, task: dict) -> list[str]:
    breaks = []
    if service.get("launchType") not in task.get("requiresCompatibilities", []):
        breaks.append(f"launchType {service.get('launchType')}: not one the task is for")
    awsvpc = service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
    if task.get("networkMode") == "awsvpc" and not 1 <= len(awsvpc.get("subnets", [])) <= 16:
        breaks.append("networkConfiguration: 'required for awsvpc', with 1 to 16 subnets")
    ports = [
        (container.get("name"), mapping.get("containerPort"))
        for container in task["containerDefinitions"]
        for mapping in container.get("portMappings", [])
    ]
    for target in service.get("loadBalancers", []):
        if (target.get("containerName"), target.get("containerPort")) not in ports:
            breaks.append(f"loadBalancers: {target} 'must correspond to a containerPort'")
    return breaks


def task_problems(task: dict) -> list[str]:
    return model_errors(task, REGISTER) + enum_errors(task, REGISTER) + task_rule_breaks(task)


def service_problems(service: dict, task: dict) -> list[str]:
    found = model_errors(service, CREATE) + enum_errors(service, CREATE)
    return found + service_rule_breaks(service, task)


# ECS


@pytest.mark.parametrize("platform", ["linux/amd64", "linux/arm64"])
def test_the_task_definition_is_a_request_ecs_takes(platform):
    task, _ = requests_of(run_program(ON_AWS | {"platform": platform}))
    assert task_problems(task) == []
    container = ECS.shape_for("ContainerDefinition")
    for definition in task["containerDefinitions"]:
        assert model_errors(definition, container) == []
    # The enum check reaches every field of ours that has one.
    assert set(enum_values(task, REGISTER)) == {
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
    assert service_problems(service, task) == []
    assert enum_values(service, CREATE) == {
        "launchType": ("FARGATE", ECS.shape_for("LaunchType").enum),
        "networkConfiguration.awsvpcConfiguration.assignPublicIp": (
            "ENABLED",
            ECS.shape_for("AssignPublicIp").enum,
        ),
    }


DROP = object()


def broken(request: dict, path: str, value) -> dict:
    """A copy of the request with the value at a dotted path set, or removed if value is DROP."""
    request = copy.deepcopy(request)
    *parents, last = [int(key) if key.isdigit() else key for key in path.split(".")]
    at = request
    for key in parents:
        at = at[key]
    if value is DROP:
        del at[last]
    else:
        at[last] = value
    return request


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
        ("runtimePlatform.cpuArchitecture", "AMD64", "cpuArchitecture: 'AMD64' is not one of"),
        (HOME_ON_EFS + "transitEncryption", "enabled", "transitEncryption: 'enabled' is not"),
        (HUB + "logConfiguration.logDriver", "cloudwatch", "logDriver: 'cloudwatch' is not"),
        # What the model allows and ECS refuses.
        (HUB + "image", DROP, "container hub: no image"),
        ("networkMode", "bridge", "networkMode: 'For Amazon ECS tasks on Fargate"),
        (HOME_ON_EFS + "transitEncryption", "DISABLED", "volume home: IAM and access points"),
        (HUB + "portMappings.0.hostPort", 80, "with awsvpc, hostPort is containerPort"),
        (HUB + "mountPoints.0.sourceVolume", "homes", "mounts 'homes', no volume"),
        (HUB + "logConfiguration.options.awslogs-stream-prefix", DROP, "awslogs needs"),
        ("executionRoleArn", DROP, "secrets and logs need an executionRoleArn"),
    ],
)
def test_a_broken_task_definition_is_reported(declared, path, value, reported):
    task, _ = requests_of(declared)
    problems = task_problems(broken(task, path, value))
    assert any(reported in problem for problem in problems), problems


def test_botocore_alone_does_not_see_a_missing_image(declared):
    # Why task_rule_breaks checks it: the model marks no member of a container required.
    task, _ = requests_of(declared)
    assert ECS.shape_for("ContainerDefinition").required_members == []
    assert model_errors(broken(task, HUB + "image", DROP), REGISTER) == []


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
        ("launchType", "EC2", "launchType EC2: not one the task is for"),
        (AWSVPC + "subnets", [], "networkConfiguration: 'required for awsvpc'"),
        ("loadBalancers.0.containerPort", 8888, "'must correspond to a containerPort'"),
    ],
)
def test_a_broken_or_untranslated_service_is_reported(declared, path, value, reported):
    task, service = requests_of(declared)
    problems = service_problems(broken(service, path, value), task)
    assert any(reported in problem for problem in problems), problems


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
    task = one(declared, TASK_DEFINITION).inputs
    roles = {"hub-execution": task["executionRoleArn"], "hub-task": task["taskRoleArn"]}
    documents = policy_documents(declared)
    for role, arn in roles.items():
        documents[f"{role} trust"] = trust_with_its_role(documents[f"{role} trust"], arn)
    return documents


def test_every_policy_document_is_checked(declared):
    assert sorted(policy_documents(declared)) == [
        "hub file system",
        "hub-execution inline",
        "hub-execution trust",
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
    # Both are what these roles are for and neither can be narrowed: ECS gets each role's
    # credentials (AssumeRole, by ecs-tasks.amazonaws.com only), and an ECR token to pull the
    # image as the execution role (GetAuthorizationToken has no resource-level permissions).
    assume_role = [("CREDENTIALS_EXPOSURE", "", ["sts:assumerole"])]
    assert reported == {
        "hub-execution trust": assume_role,
        "hub-task trust": assume_role,
        "hub-execution inline": [("CREDENTIALS_EXPOSURE", "", ["ecr:getauthorizationtoken"])],
        "hub-task inline": [],
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
