"""The AWS services' own rules for what the program asks of them, each with where it comes from.

A request is held to botocore's model of its API call (required members, types, enums, lengths,
ranges, and the `pattern`s that botocore ships but does not enforce), then to the rules below:
those the models state only in prose, and those a service enforces across calls. The program asks
`value_problem` at preview about the names and values its settings make; the tests run every
resource it declares through `problems`. A pattern must match the whole value, as the services
hold it (ECR refuses an upper-case repository name, in which its unanchored pattern finds a match).
"""

import functools
import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

import botocore.session
import regex
from botocore.model import Shape
from botocore.validate import ParamValidator


@dataclass(frozen=True)
class Request:
    """One call the AWS provider makes to AWS for a declared resource."""

    resource: str  # the declared resource, as messages name it: "aws:ec2/securityGroup:... hub"
    service: str  # botocore's name for the API: "ec2", "cognito-idp"
    operation: str  # "CreateSecurityGroup"
    params: dict
    # The id and ARN of what the call makes, so rules can find the requests that refer to it.
    creates: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProseRule:
    """A member whose allowed values its model states only in its documentation."""

    service: str
    operation: str
    path: str  # the member from the request's top; "[]" stands for any list entry
    pattern: str  # what the whole value must match
    says: str  # the rule in the service's words
    source: str
    refused: str = ""  # what no whole value may match (a reserved prefix or ending)


@dataclass(frozen=True)
class AttributeRange:
    """A number-valued attribute of a Key/Value list whose range the model states in prose."""

    service: str
    operation: str
    key: str
    low: int
    high: int
    source: str


# EC2's characters for security group names and descriptions, and for rules' (a group or prefix
# list as the peer: no &).
_EC2_TEXT = r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=&;{}!$*]{0,255}"
_EC2_TEXT_SAYS = "at most 255 of a-z A-Z 0-9, spaces and ._-:/()#,@[]+=&;{}!$*"
_EC2_PEER_TEXT = r"[a-zA-Z0-9 ._\-:/()#,@\[\]+=;{}!$*]{0,255}"
_EC2_PEER_TEXT_SAYS = "at most 255 of a-z A-Z 0-9, spaces and ._-:/()#,@[]+=;{}!$*"
_ELB_NAME = r"(?!internal-)[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?"
_ELB_NAME_SAYS = "at most 32 letters, digits or hyphens, not starting or ending with a hyphen"
_ECS_NAME = r"[A-Za-z0-9_-]{1,255}"
_ECS_NAME_SAYS = "at most 255 letters, digits, underscores or hyphens"
# CloudWatch Logs' retention periods, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)  # fmt: skip
# Fargate's task sizes: CPU units -> the memory (MiB) it accepts with them (botocore ecs model,
# RegisterTaskDefinition.cpu documentation).
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}

PROSE_RULES = (
    ProseRule(
        "ec2",
        "CreateSecurityGroup",
        "Description",
        _EC2_TEXT,
        _EC2_TEXT_SAYS,
        "botocore ec2 model, CreateSecurityGroup.Description documentation",
    ),
    ProseRule(
        "ec2",
        "CreateSecurityGroup",
        "GroupName",
        _EC2_TEXT,
        _EC2_TEXT_SAYS + ", not starting with sg-",
        "botocore ec2 model, CreateSecurityGroup.GroupName documentation",
        refused=r"sg-.*",
    ),
    *(
        ProseRule(
            "ec2",
            operation,
            f"IpPermissions[].{peers}[].Description",
            pattern,
            says,
            f"botocore ec2 model, {shape}.Description documentation",
        )
        for operation in ("AuthorizeSecurityGroupIngress", "AuthorizeSecurityGroupEgress")
        for peers, shape, pattern, says in (
            ("IpRanges", "IpRange", _EC2_TEXT, _EC2_TEXT_SAYS),
            ("Ipv6Ranges", "Ipv6Range", _EC2_TEXT, _EC2_TEXT_SAYS),
            ("UserIdGroupPairs", "UserIdGroupPair", _EC2_PEER_TEXT, _EC2_PEER_TEXT_SAYS),
            ("PrefixListIds", "PrefixListId", _EC2_PEER_TEXT, _EC2_PEER_TEXT_SAYS),
        )
    ),
    ProseRule(
        "elbv2",
        "CreateLoadBalancer",
        "Name",
        _ELB_NAME,
        _ELB_NAME_SAYS + ", not starting with internal-",
        "botocore elbv2 model, CreateLoadBalancer.Name documentation",
    ),
    ProseRule(
        "elbv2",
        "CreateTargetGroup",
        "Name",
        _ELB_NAME,
        _ELB_NAME_SAYS,
        "botocore elbv2 model, CreateTargetGroup.Name documentation",
    ),
    ProseRule(
        "ecs",
        "RegisterTaskDefinition",
        "family",
        _ECS_NAME,
        _ECS_NAME_SAYS,
        "botocore ecs model, RegisterTaskDefinition.family documentation",
    ),
    ProseRule(
        "ecs",
        "CreateCluster",
        "clusterName",
        _ECS_NAME,
        _ECS_NAME_SAYS,
        "botocore ecs model, CreateCluster.clusterName documentation",
    ),
    ProseRule(
        "logs",
        "PutRetentionPolicy",
        "retentionInDays",
        "|".join(map(str, LOG_RETENTION_DAYS)),
        "one of " + ", ".join(map(str, LOG_RETENTION_DAYS)),
        "botocore logs model, PutRetentionPolicy.retentionInDays documentation",
    ),
    ProseRule(
        "cognito-idp",
        "CreateUserPoolDomain",
        "Domain",
        r"(?!.*(?:aws|amazon|cognito)).*",
        "a prefix without aws, amazon or cognito in it",
        "Cognito developer guide, cognito-user-pools-assign-domain-prefix.html",
    ),
    ProseRule(
        "acm",
        "RequestCertificate",
        "DomainName",
        r".{1,64}",
        "at most 64 characters (RFC 5280's limit for a certificate's common name)",
        "botocore acm model, RequestCertificate.DomainName documentation",
    ),
    ProseRule(
        "secretsmanager",
        "CreateSecret",
        "Name",
        r"[A-Za-z0-9/_+=.@-]+",
        "ASCII letters, digits and /_+=.@-, not ending in a hyphen and six characters",
        "botocore secretsmanager model, CreateSecret.Name documentation",
        refused=r".*-[A-Za-z0-9]{6}",
    ),
    ProseRule(
        "s3",
        "CreateBucket",
        "Bucket",
        r"(?!xn--|sthree-|amzn-s3-demo-)(?!.*\.\.)(?!\d+\.\d+\.\d+\.\d+\Z)"
        r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]",
        "3 to 63 of a-z 0-9 . -, starting and ending with a letter or digit, no '..', not an IP "
        "address, no reserved prefix or suffix",
        "Amazon S3 user guide, bucketnamingrules.html (general purpose buckets)",
        refused=r".*(?:-s3alias|--ol-s3|\.mrap|--x-s3|--table-s3)",
    ),
)

ATTRIBUTE_RANGES = (
    AttributeRange(
        "elbv2",
        "ModifyLoadBalancerAttributes",
        "idle_timeout.timeout_seconds",
        1,
        4000,
        "botocore elbv2 model, LoadBalancerAttribute.Key documentation",
    ),
    AttributeRange(
        "elbv2",
        "ModifyTargetGroupAttributes",
        "deregistration_delay.timeout_seconds",
        0,
        3600,
        "botocore elbv2 model, TargetGroupAttribute.Key documentation",
    ),
)


# The model


@functools.cache
def _service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


def input_shape(service: str, operation: str) -> Shape:
    return _service_model(service).operation_model(operation).input_shape


# Java's \w, \d and \s are ASCII; the regex module's are Unicode. Its \p{L} classes are Java's.
_JAVA_CLASSES = {"w": "a-zA-Z0-9_", "d": "0-9", "s": " \\t\\n\\x0B\\f\\r"}


@functools.cache
def _whole(pattern: str) -> regex.Pattern:
    """A model's pattern (Java's flavour) for the regex module, to match a whole value with."""
    out, in_class, escaped = [], False, False
    for char in pattern:
        if escaped:
            ascii_class = _JAVA_CLASSES.get(char)
            if ascii_class is None:
                out.append("\\" + char)
            else:
                out.append(ascii_class if in_class else f"[{ascii_class}]")
            escaped = False
        elif char == "\\":
            escaped = True
        else:
            in_class = char == "[" or in_class and char != "]"
            out.append(char)
    return regex.compile("".join(out))


@dataclass(frozen=True)
class Finding:
    """One value a service would refuse: where it is, and why."""

    path: str
    value: object
    says: str

    def __str__(self) -> str:
        # botocore's own lines name the member and the value themselves.
        return f"{self.path}: {self.value!r} {self.says}" if self.path else self.says


def _shape_findings(value, shape: Shape, path: str) -> list[Finding]:
    """What botocore's validator leaves to the service: enums, maximums and patterns."""
    found = []
    meta = shape.metadata
    if shape.type_name == "structure" and isinstance(value, dict):
        for key, member in value.items():
            if key in shape.members:
                found += _shape_findings(member, shape.members[key], f"{path}.{key}".lstrip("."))
    elif shape.type_name == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            found.append(Finding(path, value, f"has more than {meta['max']} entries"))
        for index, member in enumerate(value):
            found += _shape_findings(member, shape.member, f"{path}[{index}]")
    elif shape.type_name == "map" and isinstance(value, dict):
        for key, member in value.items():
            found += _shape_findings(key, shape.key, f"{path} key")
            found += _shape_findings(member, shape.value, f"{path}[{key!r}]")
    elif shape.type_name == "string" and isinstance(value, str):
        if shape.enum and value not in shape.enum:
            found.append(Finding(path, value, f"is not one of {', '.join(shape.enum)}"))
        if "max" in meta and len(value) > meta["max"]:
            found.append(Finding(path, value, f"is longer than {meta['max']} characters"))
        pattern = meta.get("pattern")
        if pattern and not _whole(pattern).fullmatch(value):
            found.append(Finding(path, value, f"does not match the model's pattern {pattern}"))
    elif shape.type_name in ("integer", "long") and isinstance(value, int):
        if "max" in meta and value > meta["max"]:
            found.append(Finding(path, value, f"is more than {meta['max']}"))
    return found


def _model_findings(request: Request) -> list[Finding]:
    shape = input_shape(request.service, request.operation)
    report = ParamValidator().validate(request.params, shape)
    # botocore's report: one line per unknown or missing member, wrong type, length or minimum.
    lines = report.generate_report().splitlines() if report.has_errors() else []
    validator = [Finding("", None, line.strip()) for line in lines]
    return validator + _shape_findings(request.params, shape, "")


# The prose


def _values_at(value, path: list[str]):
    """Every value at a path of member names, "[]" stepping into each entry of a list."""
    if not path:
        yield value
        return
    step, rest = path[0], path[1:]
    if step.endswith("[]"):
        for entry in value.get(step[:-2], []) if isinstance(value, dict) else []:
            yield from _values_at(entry, rest)
    elif isinstance(value, dict) and step in value:
        yield from _values_at(value[step], rest)


def _prose_findings(request: Request) -> list[Finding]:
    found = []
    for rule in PROSE_RULES:
        if (rule.service, rule.operation) != (request.service, request.operation):
            continue
        for value in _values_at(request.params, rule.path.split(".")):
            text = str(value)
            if not regex.fullmatch(rule.pattern, text) or (
                rule.refused and regex.fullmatch(rule.refused, text)
            ):
                found.append(Finding(rule.path, value, f"is not {rule.says} ({rule.source})"))
    for limit in ATTRIBUTE_RANGES:
        if (limit.service, limit.operation) != (request.service, request.operation):
            continue
        for attribute in request.params.get("Attributes", []):
            if attribute.get("Key") != limit.key:
                continue
            number = attribute.get("Value", "")
            if not number.isdigit() or not limit.low <= int(number) <= limit.high:
                says = f"is not in {limit.low}-{limit.high} ({limit.source})"
                found.append(Finding(f"Attributes {limit.key}", number, says))
    return found


# Across calls: what a service checks against other requests or the account.


@dataclass(frozen=True)
class Account:
    """What the rules need to know of the account: each subnet's availability zone."""

    zone_of_subnet: dict[str, str]


CrossRule = Callable[[list[Request], Account], list[str]]


def _calls(requests: list[Request], service: str, operation: str) -> list[Request]:
    return [r for r in requests if (r.service, r.operation) == (service, operation)]


def one_subnet_per_zone(requests: list[Request], account: Account) -> list[str]:
    """An ALB takes one subnet per zone and at least two zones (botocore elbv2 model,
    CreateLoadBalancer.Subnets); a file system one mount target per zone (botocore efs model,
    CreateMountTarget documentation: MountTargetConflict)."""
    found = []
    for balancer in _calls(requests, "elbv2", "CreateLoadBalancer"):
        zones = [account.zone_of_subnet.get(s, s) for s in balancer.params.get("Subnets", [])]
        if len(set(zones)) != len(zones):
            found.append(f"{balancer.resource}: Subnets {zones}: only one subnet per zone")
        if balancer.params.get("Type", "application") == "application" and len(set(zones)) < 2:
            found.append(f"{balancer.resource}: Subnets: an ALB needs two zones at least")
    targets = defaultdict(list)
    for target in _calls(requests, "efs", "CreateMountTarget"):
        zone = account.zone_of_subnet.get(target.params.get("SubnetId"), "")
        targets[(target.params.get("FileSystemId"), zone)].append(target.resource)
    for (file_system, zone), made in targets.items():
        if len(made) > 1:
            found.append(f"{', '.join(made)}: {len(made)} mount targets of {file_system} in {zone}")
    return found


_EMAIL_FORMAT = re.compile(r"[^@\s]+@[^@\s]+")
_PHONE_FORMAT = re.compile(r"\+[0-9]+")


def users_fit_their_pool(requests: list[Request], account: Account) -> list[str]:
    """AdminCreateUser as a pool's sign-in settings allow it (Cognito developer guide,
    user-pool-settings-attributes.html "Customizing sign-in attributes"; botocore cognito-idp
    model, AdminCreateUser.UserAttributes documentation)."""
    pools = {
        key: r.params
        for r in _calls(requests, "cognito-idp", "CreateUserPool")
        for key in r.creates
    }
    found = []
    for user in _calls(requests, "cognito-idp", "AdminCreateUser"):
        pool = pools.get(user.params.get("UserPoolId"))
        if pool is None:
            continue  # a pool of the operator's: its settings are not in these requests
        name = user.params.get("Username", "")
        attributes = {a["Name"]: a["Value"] for a in user.params.get("UserAttributes", [])}
        aliases = pool.get("AliasAttributes", [])
        sign_in = pool.get("UsernameAttributes", [])
        email_shaped, phone_shaped = _EMAIL_FORMAT.fullmatch(name), _PHONE_FORMAT.fullmatch(name)
        refusals = [
            # "Username cannot be of email format, since user pool is configured for email alias."
            "email" in aliases
            and email_shaped
            and "a username in e-mail format, in a pool with email as an alias",
            "phone_number" in aliases
            and phone_shaped
            and "a username in phone-number format, in a pool with phone_number as an alias",
            # "Preferred username cannot be provided for unconfirmed account": new users are.
            "preferred_username" in aliases
            and "preferred_username" in attributes
            and "preferred_username set at creation, while it is an alias of the pool",
            sign_in
            and not (
                "email" in sign_in and email_shaped or "phone_number" in sign_in and phone_shaped
            )
            and f"not a {' or '.join(sign_in)}, which this pool signs in with",
            attributes.get("email_verified") == "true"
            and "email" not in attributes
            and "email_verified without an email",
            "EMAIL" in user.params.get("DesiredDeliveryMediums", [])
            and "email" not in attributes
            and "an EMAIL invitation without an email",
        ]
        found += [f"{user.resource}: {name!r}: {why}" for why in refusals if why]
    return found


def fargate_tasks(requests: list[Request], account: Account) -> list[str]:
    """What ECS documents for Fargate tasks and the model cannot carry (botocore ecs model:
    RegisterTaskDefinition's networkMode, cpu, memory and volumes; ContainerDefinition's image,
    portMappings, mountPoints and logConfiguration; CreateService's loadBalancers)."""
    found = []
    tasks = {}
    for call in _calls(requests, "ecs", "RegisterTaskDefinition"):
        task, say = call.params, found.append
        tasks |= dict.fromkeys(call.creates, task)
        fargate = "FARGATE" in task.get("requiresCompatibilities", [])
        awsvpc = task.get("networkMode") == "awsvpc"
        if fargate and not awsvpc:
            say(f"{call.resource}: networkMode: 'For Amazon ECS tasks on Fargate, awsvpc'")
        if fargate:
            cpu, memory = str(task.get("cpu", "")), str(task.get("memory", ""))
            if not (cpu.isdigit() and memory.isdigit()) or int(memory) not in FARGATE_MEMORY.get(
                int(cpu), ()
            ):
                say(f"{call.resource}: cpu, memory: {cpu}/{memory} is no Fargate size")
        volumes = [volume["name"] for volume in task.get("volumes", [])]
        for volume in task.get("volumes", []):
            efs = volume.get("efsVolumeConfiguration", {})
            if efs.get("authorizationConfig") and efs.get("transitEncryption") != "ENABLED":
                say(f"{call.resource}: volume {volume['name']}: IAM and access points need TLS")
        # "awslogs-stream-prefix  Required: Yes, when using Fargate."
        needs = {"awslogs-group", "awslogs-region"} | (
            {"awslogs-stream-prefix"} if fargate else set()
        )
        for container in task.get("containerDefinitions", []):
            name = f"{call.resource} container {container.get('name')}"
            # The model requires no member here; ECS: "Container.image should not be null".
            for key in ("name", "image"):
                if not container.get(key):
                    say(f"{name}: no {key}")
            for mapping in container.get("portMappings", []):
                port = mapping.get("containerPort")
                if awsvpc and mapping.get("hostPort", port) != port:
                    say(f"{name}: with awsvpc, hostPort is containerPort or unset")
            for mount in container.get("mountPoints", []):
                if mount.get("sourceVolume") not in volumes:
                    say(f"{name}: mounts {mount.get('sourceVolume')!r}, which is no volume")
            log = container.get("logConfiguration", {})
            if log.get("logDriver") == "awslogs" and needs - set(log.get("options", {})):
                say(f"{name}: awslogs needs the options {sorted(needs)}")
            # ECS's agent fetches secrets and sends logs as the task's execution role.
            if (container.get("secrets") or log) and not task.get("executionRoleArn"):
                say(f"{name}: secrets and logs need an executionRoleArn")
    for call in _calls(requests, "ecs", "CreateService"):
        service, task = call.params, tasks.get(call.params.get("taskDefinition"), {})
        if service.get("launchType") not in task.get("requiresCompatibilities", []):
            found.append(f"{call.resource}: launchType {service.get('launchType')}: not the task's")
        awsvpc = service.get("networkConfiguration", {}).get("awsvpcConfiguration", {})
        if task.get("networkMode") == "awsvpc" and not 1 <= len(awsvpc.get("subnets", [])) <= 16:
            found.append(f"{call.resource}: networkConfiguration: awsvpc needs 1 to 16 subnets")
        ports = {
            (container.get("name"), mapping.get("containerPort"))
            for container in task.get("containerDefinitions", [])
            for mapping in container.get("portMappings", [])
        }
        for target in service.get("loadBalancers", []):
            if (target.get("containerName"), target.get("containerPort")) not in ports:
                found.append(f"{call.resource}: loadBalancers: {target} is no containerPort")
    return found


CROSS_RULES: tuple[CrossRule, ...] = (one_subnet_per_zone, users_fit_their_pool, fargate_tasks)


# The checks


def problems(requests: list[Request], account: Account) -> list[str]:
    """Everything the services would refuse in these requests, one line each."""
    found = []
    for request in requests:
        where = f"{request.resource}: {request.service} {request.operation}"
        findings = _model_findings(request) + _prose_findings(request)
        found += [f"{where} {finding}".rstrip() for finding in findings]
    for rule in CROSS_RULES:
        found += rule(requests, account)
    return found


def value_problem(service: str, operation: str, member: str, value) -> str | None:
    """Why the service would refuse this value of a request's top-level member, or None:
    "is refused by ECR's CreateRepository.repositoryName: does not match ..."."""
    shape = input_shape(service, operation).members[member]
    report = ParamValidator().validate(value, shape)
    lines = report.generate_report().splitlines() if report.has_errors() else []
    findings = [Finding(member, value, line.strip()) for line in lines]
    findings += _shape_findings(value, shape, member)
    request = Request("", service, operation, {member: value})
    findings += [f for f in _prose_findings(request) if f.path == member]
    if not findings:
        return None
    name = _service_model(service).metadata["serviceId"]
    return f"is refused by {name}'s {operation}.{member}: {findings[0].says}"
