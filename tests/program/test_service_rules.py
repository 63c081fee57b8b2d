"""service_rules: each rule refuses what its service refuses, in requests written here by hand.

Each case is a value the Pulumi mocks accept and AWS refuses (or, for the Cognito alias rules,
very likely refuses, as its developer guide states); each must be reported, naming the member.
"""

import re

import botocore
import pytest

import service_rules
from local.program import PROJECT_ROOT
from service_rules import Account, Request

ZONES = Account(
    {
        "subnet-0a1b2c3d4e5f60001": "eu-west-1a",
        "subnet-0a1b2c3d4e5f60002": "eu-west-1a",
        "subnet-0a1b2c3d4e5f60003": "eu-west-1b",
    }
)
POOL_ID = "eu-west-1_AbCdEf123"


def problems(*requests: Request) -> list[str]:
    return service_rules.problems(list(requests), ZONES)


def request(service: str, operation: str, **params) -> Request:
    return Request(f"test {operation}", service, operation, params)


def security_group(description: str) -> Request:
    return request(
        "ec2", "CreateSecurityGroup", GroupName="hub-task-1a2b3c4", Description=description
    )


def test_a_security_group_description_with_an_apostrophe_is_refused():
    assert problems(security_group("Hub task: its port only")) == []
    [found] = problems(security_group("The hub's task"))
    assert 'CreateSecurityGroup Description: "The hub\'s task" is not at most 255 of' in found
    assert "botocore ec2 model, CreateSecurityGroup.Description documentation" in found


def test_a_rule_description_is_held_to_the_same_characters():
    rule = request(
        "ec2",
        "AuthorizeSecurityGroupIngress",
        GroupId="sg-0123456789abcdef0",
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 443,
                "ToPort": 443,
                "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "anyone's browser"}],
            }
        ],
    )
    [found] = problems(rule)
    assert 'IpPermissions[].IpRanges[].Description: "anyone\'s browser"' in found


def test_a_rule_with_a_group_as_its_peer_takes_no_ampersand():
    def rule(peers: str, peer: dict) -> Request:
        permission = {"IpProtocol": "tcp", "FromPort": 8000, "ToPort": 8000, peers: [peer]}
        return request(
            "ec2", "AuthorizeSecurityGroupIngress", GroupId="sg-1", IpPermissions=[permission]
        )

    described = {"Description": "Hub & proxy"}
    assert problems(rule("IpRanges", {"CidrIp": "10.0.0.0/16"} | described)) == []
    [found] = problems(rule("UserIdGroupPairs", {"GroupId": "sg-2"} | described))
    assert "UserIdGroup" in found and "'Hub & proxy' is not at most 255 of" in found


def test_a_group_name_may_not_start_with_sg():
    found = problems(request("ec2", "CreateSecurityGroup", GroupName="sg-hub", Description="Hub"))
    assert found and "not starting with sg-" in found[0]


def pool(**settings) -> Request:
    return Request(
        "test pool", "cognito-idp", "CreateUserPool", {"PoolName": "hub"} | settings, (POOL_ID,)
    )


def user(username: str, **attributes) -> Request:
    return request(
        "cognito-idp",
        "AdminCreateUser",
        UserPoolId=POOL_ID,
        Username=username,
        UserAttributes=[{"Name": k, "Value": v} for k, v in attributes.items()],
        DesiredDeliveryMediums=["EMAIL"],
    )


def test_preferred_username_at_creation_is_refused_while_it_is_an_alias():
    aliased = pool(AliasAttributes=["email", "preferred_username"])
    found = problems(aliased, user("jane_doe", email="jane@uni.nl", preferred_username="jane"))
    assert found == [
        "test AdminCreateUser: 'jane_doe': preferred_username set at creation, while it is an "
        "alias of the pool"
    ]
    assert problems(aliased, user("jane_doe", email="jane@uni.nl")) == []


def test_a_username_in_email_format_is_refused_while_email_is_an_alias():
    found = problems(pool(AliasAttributes=["email"]), user("jane@uni.nl", email="jane@uni.nl"))
    assert found == [
        "test AdminCreateUser: 'jane@uni.nl': a username in e-mail format, in a pool with email "
        "as an alias"
    ]
    # Without the alias, an e-mail-shaped username is a username like any other.
    assert problems(pool(), user("jane@uni.nl", email="jane@uni.nl")) == []


def test_a_pool_that_signs_in_with_email_takes_only_email_usernames():
    by_email = pool(UsernameAttributes=["email"])
    assert problems(by_email, user("jane@uni.nl", email="jane@uni.nl")) == []
    [found] = problems(by_email, user("student1", email="s1@uni.nl"))
    assert "'student1': not a email, which this pool signs in with" in found


def test_an_email_invitation_needs_an_email():
    found = problems(pool(), user("student1", email_verified="true"))
    assert found == [
        "test AdminCreateUser: 'student1': email_verified without an email",
        "test AdminCreateUser: 'student1': an EMAIL invitation without an email",
    ]


def load_balancer(*subnets: str) -> Request:
    return request("elbv2", "CreateLoadBalancer", Name="hub-1a2b3c4", Subnets=list(subnets))


def test_a_load_balancer_takes_one_subnet_per_zone_and_two_zones():
    assert problems(load_balancer("subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f60003")) == []
    two_in_a = load_balancer(*ZONES.zone_of_subnet)
    assert problems(two_in_a) == [
        "test CreateLoadBalancer: Subnets ['eu-west-1a', 'eu-west-1a', 'eu-west-1b']: only one "
        "subnet per zone"
    ]
    [found] = problems(load_balancer("subnet-0a1b2c3d4e5f60001"))
    assert "an ALB needs two zones at least" in found


def test_a_file_system_takes_one_mount_target_per_zone():
    targets = [
        Request(
            f"mount target {subnet}",
            "efs",
            "CreateMountTarget",
            {"FileSystemId": "fs-0123456789abcdef0", "SubnetId": subnet},
        )
        for subnet in ZONES.zone_of_subnet
    ]
    assert problems(*targets) == [
        "mount target subnet-0a1b2c3d4e5f60001, mount target subnet-0a1b2c3d4e5f60002: 2 mount "
        "targets of fs-0123456789abcdef0 in eu-west-1a"
    ]


def test_a_pattern_holds_the_whole_value():
    # ECR's pattern is unanchored, and finds "erverless" in here; ECR refuses the name.
    [found] = problems(request("ecr", "CreateRepository", repositoryName="serverless-hub-Prod"))
    assert "repositoryName: 'serverless-hub-Prod' does not match the model's pattern" in found
    assert problems(request("ecr", "CreateRepository", repositoryName="serverless-hub-prod")) == []


@pytest.mark.parametrize(
    ("service", "operation", "params", "reported"),
    [
        # botocore's own validator: unknown and missing members, types, minimums.
        ("ecr", "CreateRepository", {"name": "hub"}, 'Unknown parameter in input: "name"'),
        ("ecr", "CreateRepository", {}, 'Missing required parameter in input: "repositoryName"'),
        ("efs", "CreateMountTarget", {"FileSystemId": "fs-1", "SubnetId": 3}, "Invalid type"),
        # What it leaves to the service: enums, maximums, patterns.
        (
            "ecr",
            "CreateRepository",
            {"repositoryName": "hub", "imageTagMutability": "immutable"},
            "'immutable' is not one of MUTABLE, IMMUTABLE",
        ),
        ("iam", "CreateRole", {"RoleName": "r" * 65, "AssumeRolePolicyDocument": "{}"}, "longer"),
        (
            "efs",
            "CreateAccessPoint",
            {
                "ClientToken": "t",
                "FileSystemId": "fs-0123456789abcdef0",
                "PosixUser": {"Uid": 2**32, "Gid": 0},
            },
            "PosixUser.Uid: 4294967296 is more than 4294967295",
        ),
        # What the models say in prose.
        ("elbv2", "CreateTargetGroup", {"Name": "hub-" + "x" * 29}, "at most 32 letters"),
        ("elbv2", "CreateLoadBalancer", {"Name": "internal-hub"}, "not starting with internal-"),
        ("ecs", "CreateCluster", {"clusterName": "hub.prod"}, "at most 255 letters, digits"),
        ("logs", "PutRetentionPolicy", {"logGroupName": "hub", "retentionInDays": 31}, "one of 1"),
        ("acm", "RequestCertificate", {"DomainName": "h" * 61 + ".org"}, "at most 64 characters"),
        ("secretsmanager", "CreateSecret", {"Name": "hub-secret"}, "not ending in a hyphen"),
        ("s3", "CreateBucket", {"Bucket": "Hub-Lists"}, "3 to 63 of a-z 0-9"),
        ("s3", "CreateBucket", {"Bucket": "hub..lists"}, "no '..'"),
        (
            "cognito-idp",
            "CreateUserPoolDomain",
            {"Domain": "hub-amazon", "UserPoolId": POOL_ID},
            "without aws, amazon or cognito",
        ),
        (
            "elbv2",
            "ModifyLoadBalancerAttributes",
            {
                "LoadBalancerArn": "arn:aws:elasticloadbalancing:eu-west-1:1:loadbalancer/app/h/1",
                "Attributes": [{"Key": "idle_timeout.timeout_seconds", "Value": "4001"}],
            },
            "'4001' is not in 1-4000",
        ),
    ],
)
def test_each_kind_of_rule_reports_what_its_service_refuses(service, operation, params, reported):
    found = problems(Request("test", service, operation, params))
    assert any(reported in line for line in found), found


def test_a_value_the_program_makes_is_checked_with_the_rule_and_its_source():
    assert service_rules.value_problem("ecs", "RegisterTaskDefinition", "family", "hub-dev") is None
    assert service_rules.value_problem("ecs", "RegisterTaskDefinition", "family", "hub.eu") == (
        "is refused by ECS's RegisterTaskDefinition.family: is not at most 255 letters, digits, "
        "underscores or hyphens (botocore ecs model, RegisterTaskDefinition.family documentation)"
    )


def test_patterns_are_read_as_the_services_java_reads_them():
    # Cognito's username pattern: any letter, mark, symbol, digit or punctuation, no space.
    username = service_rules._whole(r"[\p{L}\p{M}\p{S}\p{N}\p{P}]+")
    assert username.fullmatch("jane.doe@uni.nl") and username.fullmatch("Zoë")
    assert not username.fullmatch("jane doe")
    # Java's \w is ASCII: Cognito's pool names take no accented letters.
    assert not service_rules._whole(r"[\w\s+=,.@-]+").fullmatch("hub-zoë")


def test_the_program_reads_the_models_of_the_botocore_the_hub_runs():
    # requirements-dev.txt installs both files; pip takes one release only if the pins agree.
    def pin(path: str) -> str:
        found = re.search(r"^botocore==(\S+)$", (PROJECT_ROOT / path).read_text(), re.MULTILINE)
        return found[1]

    assert pin("requirements.txt") == pin("hub_image/requirements.txt") == botocore.__version__
