"""The settings for running the hub on AWS, read from stack config and checked before anything.

An empty `hubDomain` (the default) means image only: none of this is read further.
Defaults live in Pulumi.yaml; each refusal is one line naming the key, the value and the fix.
"""

import re
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

_HOST_NAME = re.compile(r"(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")
_CERTIFICATE_ARN = re.compile(r"arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}")
_HOSTED_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,31}")
_VPC_ID = re.compile(r"vpc-[0-9a-f]{8,17}")
_SUBNET_ID = re.compile(r"subnet-[0-9a-f]{8,17}")
_USER_POOL_ID = re.compile(r"[a-z]{2}(-[a-z]+)+-\d_[0-9A-Za-z]{1,52}")
# A customer managed policy, as IAM names it (path included).
_POLICY_ARN = re.compile(r"arn:aws[a-z-]*:iam::\d{12}:policy/([\w+=,.@-]+/)*[\w+=,.@-]{1,128}")
# Cognito's prefix domains: lowercase letters, digits and hyphens, not at either end.
_DOMAIN_PREFIX = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_RESERVED_IN_PREFIX = ("aws", "amazon", "cognito")
# What Fargate runs, as docker names it.
FARGATE_PLATFORMS = ("linux/amd64", "linux/arm64")
# CloudWatch Logs' retention periods, in days.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                      2192, 2557, 2922, 3288, 3653)  # fmt: skip
# Fargate's task sizes: CPU units -> the memory (MiB) it accepts.
FARGATE_MEMORY = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
    8192: tuple(range(16384, 61440 + 1, 4096)),
    16384: tuple(range(32768, 122880 + 1, 8192)),
}


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
    task_cpu: int
    task_memory: int
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
        check_domain_prefix("cognitoDomainPrefix", prefix)
    elif not user_pool_id:
        # Prefix domains are global: the project, stack and account make one nobody else has.
        account = aws.get_caller_identity().account_id
        prefix = f"{pulumi.get_project()}-{pulumi.get_stack()}-{account}".lower()
        check_domain_prefix("cognitoDomainPrefix (made from project, stack and account)", prefix)
    task_cpu, task_memory = config.require_int("taskCpu"), config.require_int("taskMemory")
    if task_memory not in FARGATE_MEMORY.get(task_cpu, ()):
        accepted = ", ".join(f"{cpu}: {m[0]}-{m[-1]}" for cpu, m in FARGATE_MEMORY.items())
        raise pulumi.RunError(
            f"taskCpu, taskMemory: {task_cpu}/{task_memory} is not a size Fargate runs; "
            f"CPU units: memory in MiB (in steps of 1024, 4096 or 8192) {accepted}"
        )
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
        task_cpu=task_cpu,
        task_memory=task_memory,
        idle_timeout=idle_timeout,
        log_retention_days=log_retention,
        permissions_boundary_arn=boundary,
    )


def refuse(key: str, value: object, what: str) -> None:
    raise pulumi.RunError(f"{key}: {value!r} is not {what} (pulumi config set {key} ...)")


def check_domain_prefix(key: str, prefix: str) -> str:
    """Cognito's rules for a prefix domain, checked at preview rather than at `pulumi up`."""
    if not _DOMAIN_PREFIX.fullmatch(prefix):
        refuse(
            key, prefix, "a Cognito domain prefix: 1-63 of a-z 0-9 -, not starting or ending with -"
        )
    reserved = [word for word in _RESERVED_IN_PREFIX if word in prefix]
    if reserved:
        refuse(
            key, prefix, f"a Cognito domain prefix: Cognito refuses one with {reserved[0]!r} in it"
        )
    return prefix


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
    zones = {subnet.availability_zone for subnet in subnets}
    if len(subnet_ids) < 2 or len(zones) < 2:
        raise pulumi.RunError(
            f"subnetIds: {subnet_ids} are in {len(zones)} availability zone(s); the load "
            "balancer needs at least two subnets in two zones"
        )
    return vpc_id, sorted(subnet_ids)
