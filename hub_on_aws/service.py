"""The hub itself on ECS Fargate: one task, its secrets, its logs and the two roles it runs with.

The hub's task holds the hub and its proxy only; each user's server is a task of its own
(hub_on_aws/servers.py), which the hub starts and stops in the same cluster.
"""

import json

import pulumi
import pulumi_aws as aws
import pulumi_random as random

from hub_on_aws.network import HUB_PORT

CONTAINER = "hub"
HOME = "/home"
# The image's JUPYTERHUB_DATA_DIR: cookie secret and SQLite database.
HUB_DATA = "/srv/jupyterhub/data"
# The image's platform as ECS names a task's CPU architecture.
CPU_ARCHITECTURE = {"linux/amd64": "X86_64", "linux/arm64": "ARM64"}
# Reading the repository's image, and nothing else of ECR (the token is account-wide).
PULL_ACTIONS = [
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
]


class HubService(pulumi.ComponentResource):
    """Exactly one hub ever (JupyterHub cannot run two copies on one database), rolled back if
    a new one does not become healthy; `pulumi up` waits until it is."""

    def __init__(
        self,
        name: str,
        *,
        image: pulumi.Input[str],
        platform: str,
        family: str,
        repository_arn: pulumi.Input[str],
        environment: dict[str, pulumi.Input[str]],
        client_secret: pulumi.Input[str],
        task_cpu: int,
        task_memory: int,
        log_retention_days: int,
        subnet_ids: list[str],
        security_group_id: pulumi.Input[str],
        files,
        servers,
        servers_security_group_id: pulumi.Input[str],
        live_object_arns: list[pulumi.Input[str]],
        target_group_arn: pulumi.Input[str],
        waits_for: list[pulumi.Resource],
        permissions_boundary: str = "",
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("serverless-hub:aws:HubService", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.log_group = aws.cloudwatch.LogGroup(
            name, retention_in_days=log_retention_days, opts=child
        )
        # Made once and kept in state as a secret: it encrypts the refresh tokens the hub keeps.
        crypt_key = random.RandomBytes(f"{name}-crypt-key", length=32, opts=child)
        secrets = {
            "OAUTH_CLIENT_SECRET": self._secret(f"{name}-oauth-client-secret", client_secret),
            "JUPYTERHUB_CRYPT_KEY": self._secret(f"{name}-crypt-key", crypt_key.hex),
        }
        self.secrets = {key: secret for key, (secret, _) in secrets.items()}
        secret_values = [value for _, value in secrets.values()]
        secret_arns = [secret.arn for secret in self.secrets.values()]
        self.execution_role = ecs_task_role(
            f"{name}-execution",
            pulumi.Output.all(repository_arn, self.log_group.arn, *secret_arns).apply(
                lambda arns: execution_policy(arns[0], arns[1], arns[2:])
            ),
            child,
            permissions_boundary,
        )
        self.cluster = aws.ecs.Cluster(name, opts=child)
        # Each user's task definition family is "<family>-server-<their account name>".
        servers_family = f"{family}-server"
        self.task_role = ecs_task_role(
            f"{name}-task",
            pulumi.Output.all(
                file_system_arn=files.file_system.arn,
                live_object_arns=live_object_arns,
                cluster_arn=self.cluster.arn,
                servers_family=servers_family,
                server_role_arns=[servers.execution_role.arn, servers.task_role.arn],
                hub=family,
            ).apply(lambda arns: task_policy(**arns)),
            child,
            permissions_boundary,
        )
        region = aws.get_region_output().region
        # Where and how the hub starts users' servers (hub_image/servers_on_ecs.py).
        servers_environment = {
            "SERVERS_ENGINE": "ecs",
            "SERVERS_CLUSTER": self.cluster.arn,
            "SERVERS_SUBNETS": ",".join(subnet_ids),
            "SERVERS_SECURITY_GROUP": servers_security_group_id,
            "SERVERS_EXECUTION_ROLE_ARN": servers.execution_role.arn,
            "SERVERS_TASK_ROLE_ARN": servers.task_role.arn,
            "SERVERS_FILE_SYSTEM_ID": files.file_system.id,
            "SERVERS_LOG_GROUP": servers.log_group.name,
            "SERVERS_FAMILY": servers_family,
            "SERVERS_CPU_ARCHITECTURE": CPU_ARCHITECTURE[platform],
            "SERVERS_HUB": family,
            "AWS_REGION": region,
        }
        containers = pulumi.Output.all(
            image=image,
            environment=environment | servers_environment,
            secrets={name: secret.arn for name, secret in self.secrets.items()},
            log_group=self.log_group.name,
            region=region,
        ).apply(lambda values: json.dumps([container_definition(**values)]))
        self.task_definition = aws.ecs.TaskDefinition(
            name,
            # One family per stack, so two stacks in one account keep their revisions apart.
            family=family,
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(task_cpu),
            memory=str(task_memory),
            runtime_platform={
                "operating_system_family": "LINUX",
                "cpu_architecture": CPU_ARCHITECTURE[platform],
            },
            execution_role_arn=self.execution_role.arn,
            task_role_arn=self.task_role.arn,
            container_definitions=containers,
            volumes=[
                _volume("home", files.file_system.id, files.homes.id),
                _volume("hub-data", files.file_system.id, files.hub_data.id),
            ],
            opts=child,
        )
        self.service = aws.ecs.Service(
            name,
            cluster=self.cluster.arn,
            task_definition=self.task_definition.arn,
            launch_type="FARGATE",
            desired_count=1,
            # Never two hubs: the old one stops before the new one starts.
            deployment_minimum_healthy_percent=0,
            deployment_maximum_percent=100,
            deployment_circuit_breaker={"enable": True, "rollback": True},
            wait_for_steady_state=True,
            health_check_grace_period_seconds=120,
            network_configuration={
                "subnets": subnet_ids,
                "security_groups": [security_group_id],
                # Default subnets have no NAT: the task reaches ECR and Cognito by its own address.
                "assign_public_ip": True,
            },
            load_balancers=[
                {
                    "target_group_arn": target_group_arn,
                    "container_name": CONTAINER,
                    "container_port": HUB_PORT,
                }
            ],
            # The first hub starts with its secrets' values, its files mountable and its lists.
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*files.mount_targets, *secret_values, *waits_for]
            ),
        )
        self.register_outputs({"serviceName": self.service.name})

    def _secret(self, name: str, value: pulumi.Input[str]):
        """A secret in Secrets Manager, and the version that holds its value."""
        secret = aws.secretsmanager.Secret(name, opts=pulumi.ResourceOptions(parent=self))
        version = aws.secretsmanager.SecretVersion(
            name,
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(value),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return secret, version


def container_definition(image, environment, secrets, log_group, region) -> dict:
    """The hub's container, as ECS's RegisterTaskDefinition takes it."""
    return {
        "name": CONTAINER,
        "image": image,
        "essential": True,
        "portMappings": [{"containerPort": HUB_PORT, "protocol": "tcp"}],
        "environment": [
            {"name": key, "value": value} for key, value in sorted(environment.items())
        ],
        # Secrets Manager hands these to the container at start; they are never in the task itself.
        "secrets": [{"name": key, "valueFrom": arn} for key, arn in sorted(secrets.items())],
        "mountPoints": [
            {"sourceVolume": "home", "containerPath": HOME},
            {"sourceVolume": "hub-data", "containerPath": HUB_DATA},
        ],
        # An init as PID 1 reaps finished kernels' orphans, as `docker run --init` does.
        "linuxParameters": {"initProcessEnabled": True},
        "logConfiguration": {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": region,
                "awslogs-stream-prefix": CONTAINER,
            },
        },
    }


def execution_policy(
    repository_arn: str, log_group_arn: str, secret_arns: list[str] | tuple = ()
) -> str:
    """What ECS may do to start a task: pull its image, write its logs, read its secrets."""
    statements = [
        {"Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Action": PULL_ACTIONS, "Resource": repository_arn},
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn.removesuffix(':*')}:log-stream:*",
        },
    ]
    if secret_arns:
        statements.append(
            {"Action": "secretsmanager:GetSecretValue", "Resource": sorted(secret_arns)}
        )
    return _policy(*statements)


def task_policy(
    file_system_arn: str,
    live_object_arns: list[str],
    cluster_arn: str,
    servers_family: str,
    server_role_arns: list[str],
    hub: str,
) -> str:
    """What the hub may do: mount its file system (write, own homes as root), read what it reads
    while it runs, and run, find and stop its users' servers, in its cluster only."""
    arn_start, cluster = cluster_arn.split(":cluster/")
    in_cluster = {"ArnEquals": {"ecs:cluster": cluster_arn}}
    tagged_by_hub = {"StringEquals": {"aws:RequestTag/serverless-hub:hub": hub}}
    task_definitions = f"{arn_start}:task-definition/{servers_family}-*"
    access_points = f"{file_system_arn.split(':file-system/')[0]}:access-point/*"
    return _policy(
        {
            "Action": [
                "elasticfilesystem:ClientMount",
                "elasticfilesystem:ClientRootAccess",
                "elasticfilesystem:ClientWrite",
            ],
            "Resource": file_system_arn,
        },
        {"Action": "s3:GetObject", "Resource": sorted(live_object_arns)},
        # Users' servers: their task definitions (one family each), in this cluster.
        {
            "Action": "ecs:RegisterTaskDefinition",
            "Resource": task_definitions,
            "Condition": tagged_by_hub,
        },
        {"Action": "ecs:RunTask", "Resource": task_definitions, "Condition": in_cluster},
        {
            "Action": ["ecs:DescribeTasks", "ecs:StopTask"],
            "Resource": f"{arn_start}:task/{cluster}/*",
            "Condition": in_cluster,
        },
        {
            "Action": "ecs:ListTasks",
            "Resource": f"{arn_start}:container-instance/{cluster}/*",
            "Condition": in_cluster,
        },
        {
            "Action": "ecs:TagResource",
            "Resource": [task_definitions, f"{arn_start}:task/{cluster}/*"],
            "Condition": {
                "StringEquals": {"ecs:CreateAction": ["RegisterTaskDefinition", "RunTask"]}
            },
        },
        # ECS has no resource-level permissions for these two.
        {
            "Action": ["ecs:DescribeTaskDefinition", "ecs:DeregisterTaskDefinition"],
            "Resource": "*",
        },
        # The two roles a server runs with, for ECS tasks only.
        {
            "Action": "iam:PassRole",
            "Resource": sorted(server_role_arns),
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        # Each user's access point, made at their first start, tagged as this hub's.
        {
            "Action": "elasticfilesystem:CreateAccessPoint",
            "Resource": file_system_arn,
            "Condition": tagged_by_hub,
        },
        {
            "Action": "elasticfilesystem:TagResource",
            "Resource": access_points,
            "Condition": {"StringEquals": {"elasticfilesystem:CreateAction": "CreateAccessPoint"}},
        },
        {"Action": "elasticfilesystem:DescribeAccessPoints", "Resource": file_system_arn},
        # An access point of a home released to another identity (a new uid) goes.
        {
            "Action": "elasticfilesystem:DeleteAccessPoint",
            "Resource": access_points,
            "Condition": {"StringEquals": {"aws:ResourceTag/serverless-hub:hub": hub}},
        },
    )


def _policy(*statements: dict) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]}
    )


def ecs_task_role(
    name: str, policy: pulumi.Input[str] | None, child, permissions_boundary: str
) -> aws.iam.Role:
    """A role that ECS tasks assume, with exactly this one inline policy, or none."""
    role = aws.iam.Role(
        name,
        # The project's path: CI's deploy role may change roles under it only (docs/ci.md).
        path=f"/{pulumi.get_project()}/",
        # The bootstrap's boundary: without it, CI's deploy role may not make the role.
        permissions_boundary=permissions_boundary or None,
        assume_role_policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "ecs-tasks.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
        opts=child,
    )
    if policy is not None:
        aws.iam.RolePolicy(name, role=role.id, policy=policy, opts=child)
    return role


def _volume(name: str, file_system_id, access_point_id) -> dict:
    """An EFS volume through an entry point, over TLS, as the task's IAM role."""
    return {
        "name": name,
        "efs_volume_configuration": {
            "file_system_id": file_system_id,
            "transit_encryption": "ENABLED",
            "authorization_config": {"access_point_id": access_point_id, "iam": "ENABLED"},
        },
    }
