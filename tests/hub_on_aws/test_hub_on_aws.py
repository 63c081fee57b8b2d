"""The hub on AWS, as the program declares it under Pulumi's mocks when a stack sets hubDomain."""

import json

import pulumi
import pytest

from local.program import IMAGE, REPOSITORY, HubMocks, copy_project, run_program

USERS = {"adminUsers": ["admin@example.org"], "allowedUsers": ["jane.doe@uni.nl", "student1"]}
ON_AWS = USERS | {
    "hubDomain": "hub.example.org",
    "hostedZoneId": "Z0123456789ABC",
    "adminGroups": ["hub-admins"],
    "allowedGroups": ["students"],
}
HUB_URL = "https://hub.example.org"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"


@pytest.fixture(scope="module")
def declared():
    return run_program(ON_AWS)


def resources(declared, type_: str) -> list:
    return [resource for resource in declared.resources if resource.type == type_]


def one(declared, type_: str, name: str = "hub"):
    return declared.resource(type_, name)


def container(declared) -> dict:
    [definition] = json.loads(one(declared, TASK_DEFINITION).inputs["containerDefinitions"])
    return definition


def environment(declared) -> dict:
    return {pair["name"]: pair["value"] for pair in container(declared)["environment"]}


def test_without_hub_domain_only_the_image_is_declared():
    declared = run_program(USERS)
    assert sorted((r.type, r.name) for r in declared.resources) == [
        ("aws:ecr/lifecyclePolicy:LifecyclePolicy", "hub"),
        ("aws:ecr/lifecyclePolicy:LifecyclePolicy", "user"),
        ("aws:ecr/repository:Repository", "hub"),
        ("aws:ecr/repository:Repository", "user"),
        ("docker:index/image:Image", "hub"),
        ("docker:index/image:Image", "hub-build-cache"),
        ("docker:index/image:Image", "user"),
        ("docker:index/image:Image", "user-build-cache"),
    ]
    assert [invoke.token for invoke in declared.invokes] == [
        "aws:ecr/getAuthorizationToken:getAuthorizationToken"
    ]
    assert "hubUrl" not in declared.outputs


# Cognito


def test_users_sign_in_with_a_username_nobody_can_change_which_is_their_hub_username(declared):
    pool = one(declared, "aws:cognito/userPool:UserPool").inputs
    # Sign-in by username alone: no alias, no e-mail or phone number as username.
    assert "aliasAttributes" not in pool
    assert "usernameAttributes" not in pool
    assert pool["usernameConfiguration"] == {"caseSensitive": False}
    assert pool["adminCreateUserConfig"] == {"allowAdminCreateUserOnly": True}
    assert environment(declared)["OAUTH_LOGIN_USERNAME_KEY"] == "username"
    client = one(declared, "aws:cognito/userPoolClient:UserPoolClient").inputs
    # Cognito reads an empty or missing list as "every standard attribute": so list them.
    assert client["writeAttributes"]
    assert not {"preferred_username", "email"} & set(client["writeAttributes"])


def test_invitations_last_a_week_and_the_password_policy_is_cognitos_own(declared):
    policy = one(declared, "aws:cognito/userPool:UserPool").inputs["passwordPolicy"]
    assert policy == {
        "minimumLength": 8,
        "requireLowercase": True,
        "requireUppercase": True,
        "requireNumbers": True,
        "requireSymbols": True,
        "temporaryPasswordValidityDays": 7,
    }
    email = one(declared, "aws:cognito/userPool:UserPool").inputs["emailConfiguration"]
    assert email == {"emailSendingAccount": "COGNITO_DEFAULT"}


def test_an_ses_identity_sends_the_invitations():
    identity = "arn:aws:ses:eu-west-1:123456789012:identity/uni.nl"
    declared = run_program(ON_AWS | {"sesIdentityArn": identity, "emailFrom": "Hub <hub@uni.nl>"})
    email = one(declared, "aws:cognito/userPool:UserPool").inputs["emailConfiguration"]
    assert email == {
        "emailSendingAccount": "DEVELOPER",
        "sourceArn": identity,
        "fromEmailAddress": "Hub <hub@uni.nl>",
    }


def test_the_app_client_is_the_hubs_code_flow_and_nothing_else(declared):
    client = one(declared, "aws:cognito/userPoolClient:UserPoolClient").inputs
    assert client["generateSecret"] is True
    assert client["allowedOauthFlowsUserPoolClient"] is True
    assert client["allowedOauthFlows"] == ["code"]
    assert client["allowedOauthScopes"] == ["openid", "profile", "email"]
    assert client["explicitAuthFlows"] == ["ALLOW_REFRESH_TOKEN_AUTH"]
    assert client["supportedIdentityProviders"] == ["COGNITO"]
    assert client["preventUserExistenceErrors"] == "ENABLED"
    assert client["callbackUrls"] == [environment(declared)["OAUTH_CALLBACK_URL"]]
    assert client["callbackUrls"] == [f"{HUB_URL}/hub/oauth_callback"]
    assert client["logoutUrls"] == [f"{HUB_URL}/hub/login"]


def test_the_hub_gets_the_clients_id_and_the_hosted_ui(declared):
    env = environment(declared)
    client = one(declared, "aws:cognito/userPoolClient:UserPoolClient")
    assert env["OAUTH_CLIENT_ID"] == declared.outputs["cognitoClientId"].value
    assert client.inputs["userPoolId"] == declared.outputs["cognitoUserPoolId"].value
    domain = one(declared, "aws:cognito/userPoolDomain:UserPoolDomain").inputs
    assert domain["domain"] == "serverless-hub-test-123456789012"
    expected = "https://serverless-hub-test-123456789012.auth.eu-west-1.amazoncognito.com"
    assert env["COGNITO_DOMAIN"] == declared.outputs["cognitoDomain"].value == expected


def test_each_listed_email_becomes_an_invited_cognito_user_of_that_name(declared):
    users = {r.inputs["username"]: r.inputs for r in resources(declared, "aws:cognito/user:User")}
    assert set(users) == {"admin@example.org", "jane.doe@uni.nl"}
    jane = users["jane.doe@uni.nl"]
    # No alias attribute at creation: the pool has none.
    assert jane["attributes"] == {"email": "jane.doe@uni.nl", "email_verified": "true"}
    assert jane["desiredDeliveryMediums"] == ["EMAIL"]
    assert declared.warnings == [
        "'student1' is not an e-mail address, so no Cognito user is made for it (an invitation "
        "needs one): make it by hand with the username 'student1' and their e-mail "
        "(docs/managing-users.md)"
    ]


def test_a_name_taken_off_the_lists_is_no_longer_a_cognito_user():
    before = run_program(ON_AWS)
    after = run_program(ON_AWS | {"allowedUsers": ["student1"]})
    names = {r.name for r in resources(before, "aws:cognito/user:User")}
    # The resource goes from the program, so `pulumi up` deletes that Cognito user.
    assert names - {r.name for r in resources(after, "aws:cognito/user:User")} == {
        "user-jane.doe@uni.nl"
    }


def test_the_listed_groups_are_made(declared):
    groups = resources(declared, "aws:cognito/userGroup:UserGroup")
    assert sorted(group.inputs["name"] for group in groups) == ["hub-admins", "students"]


def test_an_existing_pool_gets_only_an_app_client():
    existing = "https://login.uni.nl"
    declared = run_program(
        ON_AWS | {"cognitoUserPoolId": "eu-west-1_AbCdEf123", "cognitoDomain": existing + "/"}
    )
    made = {r.type for r in declared.resources if r.type.startswith("aws:cognito/")}
    assert made == {"aws:cognito/userPoolClient:UserPoolClient"}
    client = one(declared, "aws:cognito/userPoolClient:UserPoolClient").inputs
    assert client["userPoolId"] == "eu-west-1_AbCdEf123"
    assert environment(declared)["COGNITO_DOMAIN"] == existing


# Secrets


def secret_values(declared) -> dict[str, str]:
    """Secrets Manager's secrets as the program fills them: secret id (its ARN) -> value."""
    versions = resources(declared, "aws:secretsmanager/secretVersion:SecretVersion")
    return {version.inputs["secretId"]: version.inputs["secretString"] for version in versions}


def test_secrets_reach_the_hub_through_secrets_manager_only(declared):
    values = secret_values(declared)
    by_name = {pair["name"]: values[pair["valueFrom"]] for pair in container(declared)["secrets"]}
    assert set(by_name) == {"OAUTH_CLIENT_SECRET", "JUPYTERHUB_CRYPT_KEY"}
    # The app client's own secret, as Cognito generated it; a 32-byte key in hex.
    assert by_name["OAUTH_CLIENT_SECRET"].startswith("mock-client-secret-")
    assert len(bytes.fromhex(by_name["JUPYTERHUB_CRYPT_KEY"])) == 32


def test_no_secret_value_is_in_the_task_or_in_plain_state(declared):
    versions = resources(declared, "aws:secretsmanager/secretVersion:SecretVersion")
    for version in versions:
        assert version.secret_inputs == {"secretString"}
    task = json.dumps(one(declared, TASK_DEFINITION).inputs)
    for value in secret_values(declared).values():
        assert value not in task
    assert not declared.outputs["cognitoClientId"].secret


# ECS


def test_the_task_runs_exactly_the_pushed_image_by_digest(declared):
    assert container(declared)["image"] == declared.outputs["imageDigest"].value
    assert "@sha256:" in container(declared)["image"]


@pytest.mark.parametrize(
    ("platform", "architecture"), [("linux/amd64", "X86_64"), ("linux/arm64", "ARM64")]
)
def test_the_task_runs_on_the_images_platform(platform, architecture):
    task = one(run_program(ON_AWS | {"platform": platform}), TASK_DEFINITION).inputs
    assert task["runtimePlatform"] == {
        "operatingSystemFamily": "LINUX",
        "cpuArchitecture": architecture,
    }


def test_the_task_definition(declared):
    task = one(declared, TASK_DEFINITION).inputs
    # One family per stack: two stacks in one account keep their revisions apart.
    assert task["family"] == "serverless-hub-test"
    assert task["requiresCompatibilities"] == ["FARGATE"]
    assert task["networkMode"] == "awsvpc"
    # The hub and its proxy only: users' servers are tasks of their own.
    assert (task["cpu"], task["memory"]) == ("512", "1024")
    definition = container(declared)
    assert definition["portMappings"] == [{"containerPort": 8000, "protocol": "tcp"}]
    assert definition["linuxParameters"] == {"initProcessEnabled": True}
    assert definition["mountPoints"] == [
        {"sourceVolume": "home", "containerPath": "/home"},
        {"sourceVolume": "hub-data", "containerPath": "/srv/jupyterhub/data"},
    ]
    assert set(environment(declared)) == {
        "USER_LISTS_URL",
        "OAUTH_CLIENT_ID",
        "OAUTH_LOGIN_USERNAME_KEY",
        "OAUTH_CALLBACK_URL",
        "PUBLIC_URL",
        "USER_SUBDOMAINS",
        "COGNITO_DOMAIN",
        "JUPYTERHUB_CULL_IDLE_TIMEOUT",
        # Where the hub starts users' servers, and what they run.
        "USER_SERVERS_URL",
        "SERVERS_ENGINE",
        "SERVERS_CLUSTER",
        "SERVERS_SUBNETS",
        "SERVERS_SECURITY_GROUP",
        "SERVERS_EXECUTION_ROLE_ARN",
        "SERVERS_TASK_ROLE_ARN",
        "SERVERS_FILE_SYSTEM_ID",
        "SERVERS_LOG_GROUP",
        "SERVERS_FAMILY",
        "SERVERS_CPU_ARCHITECTURE",
        "SERVERS_HUB",
        "AWS_REGION",
    }
    assert environment(declared)["JUPYTERHUB_CULL_IDLE_TIMEOUT"] == "3600"
    log = definition["logConfiguration"]
    assert log["logDriver"] == "awslogs"
    assert log["options"]["awslogs-group"] == declared.outputs["logGroupName"].value


def test_homes_and_the_hub_data_are_on_efs_over_tls_with_iam(declared):
    task = one(declared, TASK_DEFINITION).inputs
    file_system = declared.outputs["fileSystemId"].value
    points = {p.name: p for p in resources(declared, "aws:efs/accessPoint:AccessPoint")}
    for volume, point in (("home", "hub-homes"), ("hub-data", "hub-hub-data")):
        [config] = [v["efsVolumeConfiguration"] for v in task["volumes"] if v["name"] == volume]
        assert config["fileSystemId"] == file_system
        assert config["transitEncryption"] == "ENABLED"
        assert config["authorizationConfig"]["iam"] == "ENABLED"
        assert config["authorizationConfig"]["accessPointId"].startswith("fsap-")
        # No posix user: each process keeps its own uid, so homes stay private to their owner.
        assert "posixUser" not in points[point].inputs
    assert points["hub-homes"].inputs["rootDirectory"]["path"] == "/home"


def test_the_hub_starts_only_once_its_secrets_files_and_lists_are_there(declared):
    service = one(declared, "aws:ecs/service:Service")
    urns = {(r.type, r.name): r.urn for r in declared.resources}
    waited_for = {
        ("aws:secretsmanager/secretVersion:SecretVersion", "hub-oauth-client-secret"),
        ("aws:secretsmanager/secretVersion:SecretVersion", "hub-crypt-key"),
        ("aws:s3/bucketObjectv2:BucketObjectv2", "hub"),
        *(("aws:efs/mountTarget:MountTarget", f"hub-{s}") for s in HubMocks().subnets),
    }
    assert {urns[key] for key in waited_for} <= set(service.dependencies)


def test_exactly_one_hub_ever_and_up_waits_for_it(declared):
    service = one(declared, "aws:ecs/service:Service").inputs
    assert service["desiredCount"] == 1
    assert service["deploymentMinimumHealthyPercent"] == 0
    assert service["deploymentMaximumPercent"] == 100
    assert service["deploymentCircuitBreaker"] == {"enable": True, "rollback": True}
    assert service["waitForSteadyState"] is True
    assert service["launchType"] == "FARGATE"


def test_the_load_balancer_reaches_the_hubs_port_and_health_route(declared):
    service = one(declared, "aws:ecs/service:Service").inputs
    group = one(declared, "aws:lb/targetGroup:TargetGroup").inputs
    [target] = service["loadBalancers"]
    assert target["containerName"] == container(declared)["name"]
    assert target["containerPort"] == group["port"] == 8000
    assert container(declared)["portMappings"][0]["containerPort"] == group["port"]
    assert group["healthCheck"]["path"] == "/hub/health"
    assert group["targetType"] == "ip"
    assert group["deregistrationDelay"] <= 30


# Load balancer, certificate and name


def test_https_only_with_tls_1_2_or_newer(declared):
    listeners = {r.name: r.inputs for r in resources(declared, "aws:lb/listener:Listener")}
    https, http = listeners["hub-https"], listeners["hub-http"]
    assert (https["port"], https["protocol"]) == (443, "HTTPS")
    assert https["sslPolicy"] == "ELBSecurityPolicy-TLS13-1-2-2021-06"
    assert https["defaultActions"][0]["type"] == "forward"
    assert http["defaultActions"][0]["redirect"] == {
        "protocol": "HTTPS",
        "port": "443",
        "statusCode": "HTTP_301",
    }
    balancer = one(declared, "aws:lb/loadBalancer:LoadBalancer").inputs
    assert balancer["internal"] is False
    assert balancer["idleTimeout"] >= 3600


def test_a_hosted_zone_gives_the_name_and_a_validated_certificate(declared):
    certificate = one(declared, "aws:acm/certificate:Certificate").inputs
    assert certificate == {
        "domainName": "hub.example.org",
        # Users' servers, each on its own origin.
        "subjectAlternativeNames": ["*.hub.example.org"],
        "validationMethod": "DNS",
    }
    validation = one(declared, "aws:acm/certificateValidation:CertificateValidation").inputs
    https = one(declared, "aws:lb/listener:Listener", "hub-https").inputs
    assert https["certificateArn"] == validation["certificateArn"]
    for record, host in (("hub", "hub.example.org"), ("hub-users", "*.hub.example.org")):
        alias = one(declared, "aws:route53/record:Record", record).inputs
        assert (alias["zoneId"], alias["name"], alias["type"]) == ("Z0123456789ABC", host, "A")
        assert alias["aliases"][0]["name"] == declared.outputs["loadBalancerDnsName"].value


def test_users_servers_are_on_subdomains_of_the_hubs_public_url(declared):
    env = environment(declared)
    assert (env["PUBLIC_URL"], env["USER_SUBDOMAINS"]) == (HUB_URL, "true")


def test_a_given_certificate_is_used_as_it_is():
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/12345678-1234-1234-1234-123456789012"
    declared = run_program(ON_AWS | {"hostedZoneId": "", "certificateArn": arn})
    assert one(declared, "aws:lb/listener:Listener", "hub-https").inputs["certificateArn"] == arn
    assert not resources(declared, "aws:acm/certificate:Certificate")
    assert not resources(declared, "aws:route53/record:Record")


# EFS, network, IAM


def test_the_file_system_is_encrypted_backed_up_and_in_every_subnet(declared):
    assert one(declared, "aws:efs/fileSystem:FileSystem").inputs["encrypted"] is True
    backup = one(declared, "aws:efs/backupPolicy:BackupPolicy").inputs
    assert backup["backupPolicy"] == {"status": "ENABLED"}
    targets = resources(declared, "aws:efs/mountTarget:MountTarget")
    subnets = one(declared, "aws:ecs/service:Service").inputs["networkConfiguration"]["subnets"]
    assert sorted(t.inputs["subnetId"] for t in targets) == sorted(subnets)
    assert len(subnets) == 3


def test_each_door_admits_only_the_one_before_it(declared):
    groups = {r.urn: r.name for r in resources(declared, "aws:ec2/securityGroup:SecurityGroup")}
    del groups
    rules = resources(declared, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    by_port = {}
    for rule in rules:
        peer = rule.inputs.get("cidrIpv4") or rule.inputs.get("cidrIpv6") or "a security group"
        by_port.setdefault(rule.inputs["fromPort"], set()).add(peer)
        assert rule.inputs["fromPort"] == rule.inputs["toPort"]
    assert by_port == {
        80: {"0.0.0.0/0", "::/0"},
        443: {"0.0.0.0/0", "::/0"},
        8000: {"a security group"},
        2049: {"a security group"},
        # The hub to users' servers, and they to its API.
        8888: {"a security group"},
        8081: {"a security group"},
    }


def test_each_role_may_touch_exactly_its_own_resources(declared):
    policies = {
        r.name: json.loads(r.inputs["policy"])
        for r in resources(declared, "aws:iam/rolePolicy:RolePolicy")
    }
    repository_arn = declared.outputs["repositoryArn"].value
    statements = {
        tuple(sorted([s["Action"]] if isinstance(s["Action"], str) else s["Action"])): s["Resource"]
        for s in policies["hub-execution"]["Statement"]
    }
    assert statements[("ecr:GetAuthorizationToken",)] == "*"
    assert (
        statements[
            ("ecr:BatchCheckLayerAvailability", "ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer")
        ]
        == repository_arn
    )
    log_group = declared.outputs["logGroupName"].value
    assert statements[("logs:CreateLogStream", "logs:PutLogEvents")] == (
        f"arn:aws:logs:eu-west-1:123456789012:log-group:{log_group}:log-stream:*"
    )
    secret_arns = sorted(pair["valueFrom"] for pair in container(declared)["secrets"])
    assert statements[("secretsmanager:GetSecretValue",)] == secret_arns
    mount, read_live = policies["hub-task"]["Statement"][:2]
    file_system_id = declared.outputs["fileSystemId"].value
    assert mount["Resource"] == (
        f"arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/{file_system_id}"
    )
    objects = [
        "arn:aws:s3:::" + environment(declared)[url].removeprefix("s3://")
        for url in ("USER_LISTS_URL", "USER_SERVERS_URL")
    ]
    assert read_live == {"Effect": "Allow", "Action": "s3:GetObject", "Resource": sorted(objects)}


def statements_of(declared, role: str) -> dict[str, dict]:
    """A role's inline policy, action -> its statement (each action is in one)."""
    [policy] = [r for r in resources(declared, "aws:iam/rolePolicy:RolePolicy") if r.name == role]
    found = {}
    for statement in json.loads(policy.inputs["policy"])["Statement"]:
        actions = statement["Action"]
        for action in [actions] if isinstance(actions, str) else actions:
            assert action not in found, f"{action} is in two statements"
            found[action] = statement
    return found


def test_the_hub_may_run_find_and_stop_only_its_users_servers_in_its_cluster(declared):
    hub = statements_of(declared, "hub-task")
    env = environment(declared)
    cluster = env["SERVERS_CLUSTER"]
    assert cluster == one(declared, "aws:ecs/cluster:Cluster").state["arn"]
    account = "arn:aws:ecs:eu-west-1:123456789012"
    families = f"{account}:task-definition/serverless-hub-test-server-*"
    assert env["SERVERS_FAMILY"] == "serverless-hub-test-server"
    in_cluster = {"ArnEquals": {"ecs:cluster": cluster}}
    assert hub["ecs:RunTask"]["Resource"] == families
    assert hub["ecs:RunTask"]["Condition"] == in_cluster
    assert hub["ecs:RegisterTaskDefinition"]["Resource"] == families
    cluster_name = cluster.rsplit("/", 1)[1]
    for action in ("ecs:StopTask", "ecs:DescribeTasks"):
        assert hub[action]["Resource"] == f"{account}:task/{cluster_name}/*"
        assert hub[action]["Condition"] == in_cluster
    # What ECS cannot scope by resource, and nothing else of ECS, is on "*".
    anywhere = {action for action, statement in hub.items() if statement["Resource"] == "*"}
    assert anywhere == {"ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition"}
    # It hands ECS the servers' two roles, and no other.
    servers = {r.name: r.state["arn"] for r in resources(declared, "aws:iam/role:Role")}
    assert hub["iam:PassRole"]["Resource"] == sorted(
        [servers["hub-servers-execution"], servers["hub-servers-task"]]
    )
    assert env["SERVERS_TASK_ROLE_ARN"] == servers["hub-servers-task"]
    assert hub["iam:PassRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
    }
    # Access points only on its own file system, tagged as its own.
    file_system = one(declared, "aws:efs/fileSystem:FileSystem").state["arn"]
    assert hub["elasticfilesystem:CreateAccessPoint"]["Resource"] == file_system
    assert env["SERVERS_FILE_SYSTEM_ID"] == declared.outputs["fileSystemId"].value


def test_a_users_server_has_no_aws_permissions_and_mounts_by_access_point_only(declared):
    roles = {r.name for r in resources(declared, "aws:iam/rolePolicy:RolePolicy")}
    assert "hub-servers-task" not in roles
    policy = json.loads(one(declared, "aws:efs/fileSystemPolicy:FileSystemPolicy").inputs["policy"])
    [allow] = [s for s in policy["Statement"] if s["Effect"] == "Allow"]
    servers_task = one(declared, "aws:iam/role:Role", "hub-servers-task").state["arn"]
    assert allow["Principal"] == {"AWS": servers_task}
    assert allow["Action"] == ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"]
    assert allow["Condition"] == {"Null": {"elasticfilesystem:AccessPointArn": "false"}}
    # Not through the hub's own: all of /home with no uid enforced, and the hub's database.
    [never] = [s for s in policy["Statement"] if s.get("Sid") == "UserServersNeverThroughTheHubs"]
    hubs = {r.name: r.state["arn"] for r in resources(declared, "aws:efs/accessPoint:AccessPoint")}
    assert never["Effect"] == "Deny" and never["Principal"] == {"AWS": servers_task}
    assert set(allow["Action"]) < set(never["Action"])
    assert never["Condition"] == {
        "ArnEquals": {"elasticfilesystem:AccessPointArn": [hubs["hub-homes"], hubs["hub-hub-data"]]}
    }
    execution = statements_of(declared, "hub-servers-execution")
    assert execution["ecr:BatchGetImage"]["Resource"] == declared.outputs["userRepositoryArn"].value
    servers_log = one(declared, "aws:cloudwatch/logGroup:LogGroup", "hub-servers").state["name"]
    assert environment(declared)["SERVERS_LOG_GROUP"] == servers_log
    # The servers' log is one `aws logs tail` away for the operator.
    assert declared.outputs["serversLogGroupName"].value == servers_log


def test_the_servers_network_admits_only_the_hub(declared):
    groups = {r.name: r.id for r in resources(declared, "aws:ec2/securityGroup:SecurityGroup")}
    ingress = {
        r.name: r.inputs
        for r in resources(declared, "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    }
    to_servers = [
        rule for rule in ingress.values() if rule["securityGroupId"] == groups["hub-servers"]
    ]
    assert to_servers == [ingress["hub-task-to-servers-in"]]
    assert to_servers[0]["referencedSecurityGroupId"] == groups["hub-task"]
    assert to_servers[0]["fromPort"] == to_servers[0]["toPort"] == 8888
    assert environment(declared)["SERVERS_SECURITY_GROUP"] == groups["hub-servers"]


BOUNDARY = "arn:aws:iam::123456789012:policy/serverless-hub-boundary"


def test_every_role_carries_the_boundary_and_lives_under_the_projects_path():
    declared = run_program(ON_AWS | {"permissionsBoundaryArn": BOUNDARY})
    roles = resources(declared, "aws:iam/role:Role")
    assert sorted(role.name for role in roles) == [
        "hub-execution",
        "hub-servers-execution",
        "hub-servers-task",
        "hub-task",
    ]
    for role in roles:
        assert role.inputs["permissionsBoundary"] == BOUNDARY, role.name
        # CI's deploy role may change roles under this path only (bootstrap/policies.py).
        assert role.inputs["path"] == "/serverless-hub/", role.name
    task = one(declared, TASK_DEFINITION).inputs
    assert task["taskRoleArn"].startswith("arn:aws:iam::123456789012:role/serverless-hub/hub-task")


def test_without_a_boundary_no_role_gets_one(declared):
    roles = resources(declared, "aws:iam/role:Role")
    assert roles
    assert [role.inputs.get("permissionsBoundary") for role in roles] == [None] * len(roles)


def test_outputs(declared):
    outputs = {name: output.value for name, output in declared.outputs.items()}
    assert outputs["hubUrl"] == HUB_URL
    assert outputs["loadBalancerDnsName"].endswith(".eu-west-1.elb.amazonaws.com")
    for name in ("cognitoUserPoolId", "cognitoDomain", "cognitoClientId", "clusterName",
                 "serviceName", "fileSystemId", "logGroupName"):  # fmt: skip
        assert outputs[name], name
    assert not declared.outputs["cognitoClientId"].secret


# Bad input: one line naming the key, the value and the fix; nothing declared.

# How a refusal of a size names the sizes Fargate runs.
FARGATE_SIZES_SAID = (
    "CPU units: memory in MiB (in steps of 1024, 4096 or 8192) 256: 512-2048, 512: 1024-4096, "
    "1024: 2048-8192, 2048: 4096-16384, 4096: 8192-30720, 8192: 16384-61440, 16384: 32768-122880"
)

ONE_ZONE = {
    "subnet-0a1b2c3d4e5f60001": ("vpc-0a1b2c3d4e5f60000", "eu-west-1a"),
    "subnet-0a1b2c3d4e5f60002": ("vpc-0a1b2c3d4e5f60000", "eu-west-1a"),
}


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"hubDomain": "Hub.Example.org"},
            "hubDomain: 'Hub.Example.org' is not a host name in lowercase, e.g. hub.example.org "
            "(pulumi config set hubDomain ...)",
        ),
        (
            {"hostedZoneId": "", "certificateArn": ""},
            "certificateArn, hostedZoneId: both empty; the hub at hub.example.org needs HTTPS: set "
            "certificateArn (an ACM certificate for it) or hostedZoneId (a Route 53 zone that "
            "holds it, for a certificate made here)",
        ),
        (
            {"certificateArn": "arn:aws:iam::123456789012:server-certificate/hub"},
            "certificateArn: 'arn:aws:iam::123456789012:server-certificate/hub' is not an ACM "
            "certificate's ARN for hub.example.org (pulumi config set certificateArn ...)",
        ),
        (
            {"hostedZoneId": "example.org"},
            "hostedZoneId: 'example.org' is not a Route 53 hosted zone id, e.g. Z0123456789ABC "
            "(pulumi config set hostedZoneId ...)",
        ),
        (
            {"vpcId": "default"},
            "vpcId: 'default' is not a VPC id, e.g. vpc-0123456789abcdef0 "
            "(pulumi config set vpcId ...)",
        ),
        (
            {"subnetIds": ["subnet-0a1b2c3d4e5f60001", "public"]},
            "subnetIds: 'public' is not a subnet id, e.g. subnet-0123456789abcdef0 "
            "(pulumi config set subnetIds ...)",
        ),
        (
            {"subnetIds": ["subnet-0a1b2c3d4e5f60001"]},
            "subnetIds: ['subnet-0a1b2c3d4e5f60001'] are in 1 availability zone(s); the load "
            "balancer needs at least two subnets in two zones",
        ),
        (
            {"cognitoUserPoolId": "my-pool"},
            "cognitoUserPoolId: 'my-pool' is not a user pool id, e.g. eu-west-1_AbCdEf123 "
            "(pulumi config set cognitoUserPoolId ...)",
        ),
        (
            {"cognitoUserPoolId": "eu-west-1_AbCdEf123"},
            "cognitoDomain: empty; with cognitoUserPoolId 'eu-west-1_AbCdEf123' set it to the "
            "pool's hosted UI, e.g. https://myhub.auth.eu-west-1.amazoncognito.com",
        ),
        (
            {"cognitoUserPoolId": "eu-west-1_AbCdEf123", "cognitoDomain": "login.uni.nl"},
            "cognitoDomain: 'login.uni.nl' is not the hosted UI's https:// URL "
            "(pulumi config set cognitoDomain ...)",
        ),
        (
            {"cognitoDomain": "https://login.uni.nl"},
            "cognitoDomain: set without cognitoUserPoolId; the pool the program makes gets its "
            "own domain (cognitoDomainPrefix), so remove cognitoDomain or set cognitoUserPoolId",
        ),
        (
            {"cognitoDomainPrefix": "Hub_Login"},
            "cognitoDomainPrefix: 'Hub_Login' is refused by Cognito Identity Provider's "
            "CreateUserPoolDomain.Domain: does not match the model's pattern "
            "^[a-z0-9](?:[a-z0-9\\-]{0,61}[a-z0-9])?$; set another with "
            "`pulumi config set cognitoDomainPrefix <value>`",
        ),
        (
            {"cognitoDomainPrefix": "my-aws-hub"},
            "cognitoDomainPrefix: 'my-aws-hub' is refused by Cognito Identity Provider's "
            "CreateUserPoolDomain.Domain: is not a prefix without aws, amazon or cognito in it "
            "(Cognito developer guide, cognito-user-pools-assign-domain-prefix.html); set another "
            "with `pulumi config set cognitoDomainPrefix <value>`",
        ),
        (
            {"usernameClaim": "preferred_username"},
            "usernameClaim: 'preferred_username' is only for an existing pool (cognitoUserPoolId); "
            "in the pool the program makes, users are named by their Cognito username, which "
            "nobody can change: remove usernameClaim",
        ),
        (
            {"usernameClaim": "name"},
            "usernameClaim: 'name' is not one of username, preferred_username, email "
            "(pulumi config set usernameClaim ...)",
        ),
        (
            {"sesIdentityArn": "hub@uni.nl"},
            "sesIdentityArn: 'hub@uni.nl' is not a verified SES identity's ARN, e.g. "
            "arn:aws:ses:eu-west-1:123456789012:identity/hub@uni.nl "
            "(pulumi config set sesIdentityArn ...)",
        ),
        (
            {
                "sesIdentityArn": "arn:aws:ses:eu-west-1:123456789012:identity/uni.nl",
                "cognitoUserPoolId": "eu-west-1_AbCdEf123",
                "cognitoDomain": "https://login.uni.nl",
            },
            "sesIdentityArn: set with cognitoUserPoolId; the program sends no invitations from "
            "an existing pool: set its e-mail in Cognito, and remove sesIdentityArn",
        ),
        (
            {"emailFrom": "hub@uni.nl"},
            "emailFrom: set without sesIdentityArn; Cognito's own e-mail always sends from "
            "no-reply@verificationemail.com: set sesIdentityArn too, or remove emailFrom",
        ),
        (
            {
                "sesIdentityArn": "arn:aws:ses:eu-west-1:123456789012:identity/uni.nl",
                "emailFrom": "the hub",
            },
            "emailFrom: 'the hub' is not an e-mail address, e.g. 'Hub <hub@uni.nl>' "
            "(pulumi config set emailFrom ...)",
        ),
        (
            {"hubDomain": "jupyter-hub-for-the-department-of-theoretical-physics.example.org"},
            "hubDomain: 'jupyter-hub-for-the-department-of-theoretical-physics.example.org' is "
            "refused by ACM's RequestCertificate.DomainName: is not at most 64 characters (RFC "
            "5280's limit for a certificate's common name) (botocore acm model, "
            "RequestCertificate.DomainName documentation); use a shorter name, or give "
            "certificateArn (a certificate made elsewhere)",
        ),
        (
            {"taskCpu": 256, "taskMemory": 4096},
            f"taskCpu, taskMemory: 256/4096 is not a size Fargate runs; {FARGATE_SIZES_SAID}",
        ),
        (
            {"serverSizes": []},
            "serverSizes: [] is not a list of one or more sizes, e.g. "
            '[{"name": "standard", "cpu": 1024, "memory": 4096}] '
            "(pulumi config set serverSizes ...)",
        ),
        (
            {"serverSizes": [{"name": "large", "cpu": 4096, "memory": 4096}]},
            f"serverSizes[0] ('large'): cpu 4096, memory 4096 is not a size Fargate runs; "
            f"{FARGATE_SIZES_SAID} (pulumi config set --path 'serverSizes[0].memory' ...)",
        ),
        (
            # YAML's 4096.0 equals 4096, but the hub reads whole numbers only.
            {"serverSizes": [{"name": "large", "cpu": 4096, "memory": 16384.0}]},
            f"serverSizes[0] ('large'): cpu 4096, memory 16384.0 is not a size Fargate runs; "
            f"{FARGATE_SIZES_SAID} (pulumi config set --path 'serverSizes[0].memory' ...)",
        ),
        (
            {"serverSizes": [{"name": "large", "cpu": [4096], "memory": 16384}]},
            f"serverSizes[0] ('large'): cpu [4096], memory 16384 is not a size Fargate runs; "
            f"{FARGATE_SIZES_SAID} (pulumi config set --path 'serverSizes[0].memory' ...)",
        ),
        (
            {
                "serverSizes": [
                    {"name": "standard", "cpu": 1024, "memory": 4096},
                    {"name": "standard", "cpu": 2048, "memory": 8192},
                ]
            },
            "serverSizes[1].name: 'standard' is not a new name of at most 32 of a-z 0-9 -, e.g. "
            "standard (pulumi config set serverSizes[1].name ...)",
        ),
        (
            {"serverSizes": [{"name": "gpu", "cpu": 1024, "memory": 4096, "gpus": 1}]},
            "serverSizes[0]: {'name': 'gpu', 'cpu': 1024, 'memory': 4096, 'gpus': 1} is not a "
            "size with name, cpu, memory and optionally groups, e.g. "
            '[{"name": "standard", "cpu": 1024, "memory": 4096}] '
            "(pulumi config set serverSizes[0] ...)",
        ),
        (
            {"serverSizes": [{"name": "big", "cpu": 4096, "memory": 16384, "groups": ["a b"]}]},
            "serverSizes[0].groups: ['a b'] is not a list of Cognito group names "
            "(pulumi config set serverSizes[0].groups ...)",
        ),
        (
            {"idleTimeout": 0},
            "idleTimeout: 0 is not seconds before an idle server stops, 1 or more "
            "(pulumi config set idleTimeout ...)",
        ),
        (
            {"logRetentionDays": 31},
            "logRetentionDays: 31 is not one of 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, "
            "400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653 "
            "(pulumi config set logRetentionDays ...)",
        ),
        (
            {"permissionsBoundaryArn": "serverless-hub-boundary"},
            "permissionsBoundaryArn: 'serverless-hub-boundary' is not an IAM policy's ARN, e.g. "
            "arn:aws:iam::123456789012:policy/serverless-hub-boundary (the bootstrap's output "
            "permissionsBoundaryArn) (pulumi config set permissionsBoundaryArn ...)",
        ),
        (
            {"permissionsBoundaryArn": "arn:aws:iam::123456789012:role/serverless-hub-boundary"},
            "permissionsBoundaryArn: 'arn:aws:iam::123456789012:role/serverless-hub-boundary' is "
            "not an IAM policy's ARN, e.g. "
            "arn:aws:iam::123456789012:policy/serverless-hub-boundary (the bootstrap's output "
            "permissionsBoundaryArn) (pulumi config set permissionsBoundaryArn ...)",
        ),
        (
            {"platform": "linux/arm/v7"},
            "platform: 'linux/arm/v7' is not a platform Fargate runs: linux/amd64 or linux/arm64 "
            "(pulumi config set platform ...)",
        ),
    ],
)
def test_bad_settings_stop_the_run_before_anything_is_declared(config, message):
    declared = run_program(ON_AWS | config, check=False)
    assert isinstance(declared.error, pulumi.RunError)
    assert str(declared.error) == message
    assert declared.resources == []


def test_two_subnets_in_one_zone_are_refused():
    subnets = ONE_ZONE | {"subnet-0a1b2c3d4e5f60003": ("vpc-0a1b2c3d4e5f60000", "eu-west-1b")}
    declared = run_program(ON_AWS, mocks=HubMocks(subnets=subnets), check=False)
    assert str(declared.error) == (
        "subnetIds: subnet-0a1b2c3d4e5f60001 and subnet-0a1b2c3d4e5f60002 are both in "
        "eu-west-1a; the load balancer and the file system take one subnet per availability "
        "zone: keep one of them"
    )
    assert declared.resources == []


def test_a_stack_name_too_long_for_a_domain_prefix_is_refused_naming_the_setting():
    declared = run_program(ON_AWS, stack="a-research-group-hub-in-western-europe", check=False)
    assert str(declared.error) == (
        "cognitoDomainPrefix (made from the project, stack and account): "
        "'serverless-hub-a-research-group-hub-in-western-europe-123456789012' is refused by "
        "Cognito Identity Provider's CreateUserPoolDomain.Domain: is longer than 63 characters; "
        "set another with `pulumi config set cognitoDomainPrefix <value>`"
    )
    assert declared.resources == []


def test_a_subnet_of_another_vpc_is_refused():
    subnets = dict(
        ONE_ZONE, **{"subnet-0a1b2c3d4e5f69999": ("vpc-0fffffffffffff000", "eu-west-1b")}
    )
    config = ON_AWS | {"subnetIds": ["subnet-0a1b2c3d4e5f60001", "subnet-0a1b2c3d4e5f69999"]}
    declared = run_program(config, mocks=HubMocks(subnets=subnets), check=False)
    assert str(declared.error) == (
        "subnetIds: 'subnet-0a1b2c3d4e5f69999' is not a subnet of the VPC vpc-0a1b2c3d4e5f60000 "
        "(it is in vpc-0fffffffffffff000) (pulumi config set subnetIds ...)"
    )


def test_the_repository_is_the_same_as_without_the_hub(declared):
    alone = run_program(USERS | {"adminGroups": ["hub-admins"], "allowedGroups": ["students"]})
    assert one(declared, REPOSITORY).inputs == one(alone, REPOSITORY).inputs
    # The image is the same but for the lists, which the running hub reads from S3 instead.
    image, alone_image = one(declared, IMAGE).inputs, one(alone, IMAGE).inputs
    assert image["build"]["args"] == {"BUILDKIT_INLINE_CACHE": "1"}
    lists = {"ADMIN_USERS", "ALLOWED_USERS", "ADMIN_GROUPS", "ALLOWED_GROUPS"}
    assert set(alone_image["build"]["args"]) == lists | {"BUILDKIT_INLINE_CACHE"}


# The lists, in S3


def test_the_lists_are_a_private_encrypted_versioned_object(declared):
    [bucket] = resources(declared, "aws:s3/bucket:Bucket")
    assert bucket.inputs["forceDestroy"] is False
    block = one(declared, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    for key in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block[key] is True, key
    encryption = one(
        declared,
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
    ).inputs
    assert encryption["rules"] == [
        {"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}
    ]
    versioning = one(declared, "aws:s3/bucketVersioning:BucketVersioning").inputs
    assert versioning["versioningConfiguration"] == {"status": "Enabled"}
    ownership = one(declared, "aws:s3/bucketOwnershipControls:BucketOwnershipControls").inputs
    assert ownership["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_the_hub_is_told_where_the_lists_are_and_they_are_cleaned(declared):
    lists = one(declared, "aws:s3/bucketObjectv2:BucketObjectv2").inputs
    url = environment(declared)["USER_LISTS_URL"]
    assert url == f"s3://{lists['bucket']}/{lists['key']}"
    assert lists["contentType"] == "application/json"
    assert json.loads(lists["content"]) == {
        "adminUsers": ["admin@example.org"],
        "allowedUsers": ["jane.doe@uni.nl", "student1"],
        "adminGroups": ["hub-admins"],
        "allowedGroups": ["students"],
    }


def test_a_users_only_change_rewrites_only_the_lists():
    before = run_program(ON_AWS)
    after = run_program(ON_AWS | {"allowedUsers": ["Newcomer@uni.nl", "jane.doe@uni.nl"]})
    changed = {
        (resource.type, resource.name)
        for resource, other in zip(before.resources, after.resources, strict=False)
        if resource.inputs != other.inputs
    }
    # No new image, no new task definition revision: the running hub reads the new object.
    assert one(before, IMAGE).inputs == one(after, IMAGE).inputs
    assert one(before, TASK_DEFINITION).inputs == one(after, TASK_DEFINITION).inputs
    assert ("aws:s3/bucketObjectv2:BucketObjectv2", "hub") in changed
    lists = json.loads(one(after, "aws:s3/bucketObjectv2:BucketObjectv2").inputs["content"])
    assert lists["allowedUsers"] == ["jane.doe@uni.nl", "newcomer@uni.nl"]


# Invitations and Cognito's daily e-mails

MANY = [f"student{n}@uni.nl" for n in range(60)]


def test_inviting_more_than_cognitos_daily_emails_is_warned_at_preview():
    declared = run_program(ON_AWS | {"allowedUsers": MANY})
    [warning] = [w for w in declared.warnings if "Cognito invitation" in w]
    assert warning == (
        "61 people get a Cognito invitation in this update, more than the 50 e-mails a day "
        "Cognito's own e-mail sends for the account; past that, creating users fails and `pulumi "
        "up` stops part-way. Set sesIdentityArn (docs/first-deploy.md), or add at most 50 people "
        "a day"
    )
    assert declared.outputs["cognitoUsers"].value == sorted(["admin@example.org", *MANY])


def test_only_the_new_invitations_count():
    earlier = {"cognitoUsers": ["admin@example.org", *MANY[:20]]}
    declared = run_program(ON_AWS | {"allowedUsers": MANY}, mocks=HubMocks(earlier_outputs=earlier))
    assert not [w for w in declared.warnings if "Cognito invitation" in w]


def test_an_ses_sender_has_no_daily_allowance_to_warn_of():
    identity = {"sesIdentityArn": "arn:aws:ses:eu-west-1:123456789012:identity/uni.nl"}
    declared = run_program(ON_AWS | identity | {"allowedUsers": MANY})
    assert not [w for w in declared.warnings if "Cognito invitation" in w]


# Users' servers: their image and sizes, live


def servers_object(declared) -> dict:
    return json.loads(
        one(declared, "aws:s3/bucketObjectv2:BucketObjectv2", "hub-servers").inputs["content"]
    )


def test_the_hub_reads_the_user_image_by_digest_and_the_sizes_from_s3(declared):
    assert servers_object(declared) == {
        "image": declared.outputs["userImageDigest"].value,
        "sizes": [{"name": "standard", "cpu": 1024, "memory": 4096}],
    }
    assert "@sha256:" in servers_object(declared)["image"]
    bucket, key = environment(declared)["USER_SERVERS_URL"].removeprefix("s3://").split("/", 1)
    made = one(declared, "aws:s3/bucketObjectv2:BucketObjectv2", "hub-servers").inputs
    assert (made["bucket"], made["key"]) == (bucket, key)


def test_sizes_with_groups_reach_the_hub_as_the_stack_gives_them():
    sizes = [
        {"name": "standard", "cpu": 1024, "memory": 4096},
        {"name": "large", "cpu": 4096, "memory": 16384, "groups": ["staff", "bioinformatics"]},
    ]
    declared = run_program(ON_AWS | {"serverSizes": sizes})
    assert servers_object(declared)["sizes"] == [
        sizes[0],
        {"name": "large", "cpu": 4096, "memory": 16384, "groups": ["bioinformatics", "staff"]},
    ]


def test_a_new_user_image_restarts_no_hub(tmp_path):
    project = copy_project(tmp_path / "project")
    before = run_program(ON_AWS, project_root=project)
    with (project / "user_image" / "group-requirements.txt").open("a") as file:
        file.write("numpy==2.3.5\n")
    after = run_program(ON_AWS, project_root=project)
    assert one(before, IMAGE, "user").inputs != one(after, IMAGE, "user").inputs
    # The hub's image and task stay: only the object the hub reads at each start changes.
    assert one(before, IMAGE).inputs == one(after, IMAGE).inputs
    assert one(before, TASK_DEFINITION).inputs == one(after, TASK_DEFINITION).inputs
    assert servers_object(before)["image"] != servers_object(after)["image"]
