"""The settings for running the hub on AWS, read from stack config and checked before anything.

An empty `hubDomain` (the default) means image only: none of this is read further.
Defaults live in Pulumi.yaml; each refusal is one line naming the key, the value and the fix.
"""

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from hub_image.user_servers import SIZE_KEYS, SIZE_NAME
from service_rules import FARGATE_MEMORY, LOG_RETENTION_DAYS
from stack_settings import refuse_unless_aws_takes
from users.names import group_name_problem

_HOST_NAME = re.compile(r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}")
_HOSTED_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,31}")
_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")
_SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")
_USER_POOL_ID = re.compile(r"[a-z]{2}(-[a-z]+)+-\d_[0-9A-Za-z]{1,52}")
_SES_IDENTITY_ARN = re.compile(r"arn:aws[a-z-]*:ses:[a-z0-9-]+:\d{12}:identity/[^\s/]+")
_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+")
# A customer managed policy, as IAM names it (path included).
_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:policy/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}")
# What Fargate runs, as docker names it.
FARGATE_PLATFORMS = ("linux/amd64", "linux/arm64")
# The claims an existing pool's users may be named by; a pool the program makes uses `username`.
USERNAME_CLAIMS = ("username", "preferred_username", "email")


@dataclass(frozen=True)
class HubOnAws:
    hub_domain: str
    certificate_arn: str
    hosted_zone_id: str
    vpc_id: str
    subnet_ids: list[str]
    cognito_user_pool_id: str
    cognito_domain: str
    cognito_domain_prefix: str
    # The claim that is the hub username: Cognito's own username in a pool the program makes.
    username_claim: str
    # A verified SES identity to send invitations from, or "" for Cognito's own e-mail.
    ses_identity_arn: str
    email_from: str
    # Names made from the project and stack, as the services take them.
    user_pool_name: str
    task_family: str
    task_cpu: int
    task_memory: int
    # The sizes of users' servers: name, CPU units, memory (MiB) and who may pick it.
    server_sizes: list[dict]
    idle_timeout: int
    log_retention_days: int
    # The boundary of every IAM role the program makes; empty: none.
    permissions_boundary_arn: str = ""


def read(config: pulumi.Config, platform: str) -> HubOnAws | None:
    """The hub's AWS settings, or None for image only (no hubDomain)."""
    hub_domain = config.require("hubDomain")
    if not hub_domain:
        return None
    if not _HOST_NAME.fullmatch(hub_domain):
        refuse("hubDomain", hub_domain, "a host name in lowercase, e.g. hub.example.org")
    if platform not in FARGATE_PLATFORMS:
        refuse("platform", platform, "a platform Fargate runs: linux/amd64 or linux/arm64")
    certificate_arn = config.require("certificateArn")
    if certificate_arn and not _CERTIFICATE_ARN.fullmatch(certificate_arn):
        refuse("certificateArn", certificate_arn, "an ACM certificate's ARN for " + hub_domain)
    hosted_zone_id = config.require("hostedZoneId")
    if hosted_zone_id and not _HOSTED_ZONE_ID.fullmatch(hosted_zone_id):
        refuse("hostedZoneId", hosted_zone_id, "a Route 53 hosted zone id, e.g. Z0123456789ABC")
    if not certificate_arn and not hosted_zone_id:
        raise pulumi.RunError(
            f"certificateArn, hostedZoneId: both empty; the hub at {hub_domain} needs HTTPS: set "
            "certificateArn (an ACM certificate for it) or hostedZoneId (a Route 53 zone that "
            "holds it, for a certificate made here)"
        )
    if not certificate_arn:
        refuse_unless_aws_takes(
            "hubDomain",
            hub_domain,
            "acm",
            "RequestCertificate",
            "DomainName",
            fix="use a shorter name, or give certificateArn (a certificate made elsewhere)",
        )
    user_pool_id = config.require("cognitoUserPoolId")
    if user_pool_id and not _USER_POOL_ID.fullmatch(user_pool_id):
        refuse("cognitoUserPoolId", user_pool_id, "a user pool id, e.g. eu-west-1_AbCdEf123")
    cognito_domain = config.require("cognitoDomain").rstrip("/")
    if user_pool_id and not cognito_domain:
        raise pulumi.RunError(
            f"cognitoDomain: empty; with cognitoUserPoolId {user_pool_id!r} set it to the pool's "
            "hosted UI, e.g. https://myhub.auth.eu-west-1.amazoncognito.com"
        )
    if cognito_domain and not cognito_domain.startswith("https://"):
        refuse("cognitoDomain", cognito_domain, "the hosted UI's https:// URL")
    if cognito_domain and not user_pool_id:
        raise pulumi.RunError(
            "cognitoDomain: set without cognitoUserPoolId; the pool the program makes gets its "
            "own domain (cognitoDomainPrefix), so remove cognitoDomain or set cognitoUserPoolId"
        )
    prefix = config.require("cognitoDomainPrefix")
    if prefix:
        refuse_unless_aws_takes(
            "cognitoDomainPrefix", prefix, "cognito-idp", "CreateUserPoolDomain", "Domain"
        )
    elif not user_pool_id:
        # Prefix domains are global: the project, stack and account make one nobody else has.
        account = aws.get_caller_identity().account_id
        made = f"{pulumi.get_project()}-{pulumi.get_stack()}-{account}".lower()
        prefix = re.sub(r"[^a-z0-9-]+", "-", made)
        refuse_unless_aws_takes(
            "cognitoDomainPrefix",
            prefix,
            "cognito-idp",
            "CreateUserPoolDomain",
            "Domain",
            made_from="the project, stack and account",
        )
    username_claim = config.require("usernameClaim")
    if username_claim not in USERNAME_CLAIMS:
        refuse("usernameClaim", username_claim, f"one of {', '.join(USERNAME_CLAIMS)}")
    if username_claim != "username" and not user_pool_id:
        raise pulumi.RunError(
            f"usernameClaim: {username_claim!r} is only for an existing pool (cognitoUserPoolId); "
            "in the pool the program makes, users are named by their Cognito username, which "
            "nobody can change: remove usernameClaim"
        )
    ses_identity_arn, email_from = _invitations(config, user_pool_id)
    stack, project = pulumi.get_stack(), pulumi.get_project()
    user_pool_name = f"{project}-{stack}"
    # A family takes letters, digits, _ and -; a stack's name may also have '.'.
    task_family = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{project}-{stack}")
    for value, service, operation, member in (
        (user_pool_name, "cognito-idp", "CreateUserPool", "PoolName"),
        (task_family, "ecs", "RegisterTaskDefinition", "family"),
    ):
        refuse_unless_aws_takes(
            f"the stack name {stack!r}",
            value,
            service,
            operation,
            member,
            made_from=f"it, for {operation}.{member}",
            fix="use another stack name",
        )
    task_cpu, task_memory = config.require_int("taskCpu"), config.require_int("taskMemory")
    if task_memory not in FARGATE_MEMORY.get(task_cpu, ()):
        raise pulumi.RunError(
            f"taskCpu, taskMemory: {task_cpu}/{task_memory} is not a size Fargate runs; "
            f"{_FARGATE_SIZES}"
        )
    server_sizes = _server_sizes(config.require_object("serverSizes"))
    idle_timeout = config.require_int("idleTimeout")
    if idle_timeout < 1:
        refuse("idleTimeout", idle_timeout, "seconds before an idle server stops, 1 or more")
    log_retention = config.require_int("logRetentionDays")
    if log_retention not in LOG_RETENTION_DAYS:
        refuse(
            "logRetentionDays", log_retention, f"one of {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    boundary = config.require("permissionsBoundaryArn")
    if boundary and not _POLICY_ARN.fullmatch(boundary):
        refuse(
            "permissionsBoundaryArn",
            boundary,
            "an IAM policy's ARN, e.g. arn:aws:iam::123456789012:policy/serverless-hub-boundary "
            "(the bootstrap's output permissionsBoundaryArn)",
        )
    vpc_id, subnet_ids = _network(config)
    return HubOnAws(
        hub_domain=hub_domain,
        certificate_arn=certificate_arn,
        hosted_zone_id=hosted_zone_id,
        vpc_id=vpc_id,
        subnet_ids=subnet_ids,
        cognito_user_pool_id=user_pool_id,
        cognito_domain=cognito_domain,
        cognito_domain_prefix=prefix,
        username_claim=username_claim,
        ses_identity_arn=ses_identity_arn,
        email_from=email_from,
        user_pool_name=user_pool_name,
        task_family=task_family,
        task_cpu=task_cpu,
        task_memory=task_memory,
        server_sizes=server_sizes,
        idle_timeout=idle_timeout,
        log_retention_days=log_retention,
        permissions_boundary_arn=boundary,
    )


def refuse(key: str, value: object, what: str) -> None:
    raise pulumi.RunError(f"{key}: {value!r} is not {what} (pulumi config set {key} ...)")


_FARGATE_SIZES = "CPU units: memory in MiB (in steps of 1024, 4096 or 8192) " + ", ".join(
    f"{cpu}: {memory[0]}-{memory[-1]}" for cpu, memory in FARGATE_MEMORY.items()
)


def _server_sizes(sizes: object) -> list[dict]:
    """serverSizes: named Fargate sizes for users' servers, the first one the default."""
    example = '[{"name": "standard", "cpu": 1024, "memory": 4096}]'
    if not isinstance(sizes, list) or not sizes:
        refuse("serverSizes", sizes, f"a list of one or more sizes, e.g. {example}")
    names = set()
    for index, size in enumerate(sizes):
        key = f"serverSizes[{index}]"
        if not isinstance(size, dict) or not {"name", "cpu", "memory"} <= set(size) <= SIZE_KEYS:
            refuse(
                key, size, f"a size with name, cpu, memory and optionally groups, e.g. {example}"
            )
        name, cpu, memory = size["name"], size["cpu"], size["memory"]
        if not isinstance(name, str) or not SIZE_NAME.fullmatch(name) or name in names:
            refuse(f"{key}.name", name, "a new name of at most 32 of a-z 0-9 -, e.g. standard")
        names.add(name)
        # Whole numbers only, as the hub reads them (1024.0 equals 1024 but the hub refuses it).
        whole = type(cpu) is int and type(memory) is int
        if not whole or memory not in FARGATE_MEMORY.get(cpu, ()):
            raise pulumi.RunError(
                f"{key} ({name!r}): cpu {cpu!r}, memory {memory!r} is not a size Fargate runs; "
                f"{_FARGATE_SIZES} (pulumi config set --path '{key}.memory' ...)"
            )
        groups = size.get("groups", [])
        if not isinstance(groups, list) or any(map(group_name_problem, groups)):
            refuse(f"{key}.groups", groups, "a list of Cognito group names")
    return [
        {"name": size["name"], "cpu": size["cpu"], "memory": size["memory"]}
        | ({"groups": sorted(size["groups"])} if size.get("groups") else {})
        for size in sizes
    ]


def _invitations(config: pulumi.Config, user_pool_id: str) -> tuple[str, str]:
    """The SES identity invitations come from (or "" for Cognito's own e-mail), and From."""
    ses_identity_arn = config.require("sesIdentityArn")
    email_from = config.require("emailFrom")
    if ses_identity_arn and not _SES_IDENTITY_ARN.fullmatch(ses_identity_arn):
        refuse(
            "sesIdentityArn",
            ses_identity_arn,
            "a verified SES identity's ARN, e.g. "
            "arn:aws:ses:eu-west-1:123456789012:identity/hub@uni.nl",
        )
    if ses_identity_arn and user_pool_id:
        raise pulumi.RunError(
            "sesIdentityArn: set with cognitoUserPoolId; the program sends no invitations from "
            "an existing pool: set its e-mail in Cognito, and remove sesIdentityArn"
        )
    if email_from and not ses_identity_arn:
        raise pulumi.RunError(
            "emailFrom: set without sesIdentityArn; Cognito's own e-mail always sends from "
            "no-reply@verificationemail.com: set sesIdentityArn too, or remove emailFrom"
        )
    if email_from and not _EMAIL.search(email_from):
        refuse("emailFrom", email_from, "an e-mail address, e.g. 'Hub <hub@uni.nl>'")
    return ses_identity_arn, email_from


def _network(config: pulumi.Config) -> tuple[str, list[str]]:
    """The VPC and two or more subnets in two or more zones; the region's defaults if unset."""
    vpc_id = config.require("vpcId")
    if vpc_id and not _VPC_ID.fullmatch(vpc_id):
        refuse("vpcId", vpc_id, "a VPC id, e.g. vpc-0123456789abcdef0")
    subnet_ids = config.require_object("subnetIds")
    for subnet_id in subnet_ids:
        if not isinstance(subnet_id, str) or not _SUBNET_ID.fullmatch(subnet_id):
            refuse("subnetIds", subnet_id, "a subnet id, e.g. subnet-0123456789abcdef0")
    vpc_id = vpc_id or aws.ec2.get_vpc(default=True).id
    if not subnet_ids:
        defaults = aws.ec2.get_subnets(
            filters=[
                {"name": "vpc-id", "values": [vpc_id]},
                {"name": "default-for-az", "values": ["true"]},
            ]
        )
        subnet_ids = sorted(defaults.ids)
    subnets = [aws.ec2.get_subnet(id=subnet_id) for subnet_id in subnet_ids]
    for subnet in subnets:
        if subnet.vpc_id != vpc_id:
            refuse(
                "subnetIds", subnet.id, f"a subnet of the VPC {vpc_id} (it is in {subnet.vpc_id})"
            )
    in_zone = {}
    for subnet in subnets:
        other = in_zone.setdefault(subnet.availability_zone, subnet.id)
        if other != subnet.id:
            raise pulumi.RunError(
                f"subnetIds: {other} and {subnet.id} are both in {subnet.availability_zone}; the "
                "load balancer and the file system take one subnet per availability zone: keep "
                "one of them"
            )
    zones = set(in_zone)
    if len(subnet_ids) < 2 or len(zones) < 2:
        raise pulumi.RunError(
            f"subnetIds: {subnet_ids} are in {len(zones)} availability zone(s); the load "
            "balancer needs at least two subnets in two zones"
        )
    return vpc_id, sorted(subnet_ids)
