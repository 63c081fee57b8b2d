"""The hub itself on ECS Fargate: one task, its secrets, its logs and the two roles it runs with."""

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
        repository_arn: pulumi.Input[str],
        environment: dict[str, pulumi.Input[str]],
        client_secret: pulumi.Input[str],
        task_cpu: int,
        task_memory: int,
        log_retention_days: int,
        subnet_ids: list[str],
        security_group_id: pulumi.Input[str],
        files,
        lists_object_arn: pulumi.Input[str],
        target_group_arn: pulumi.Input[str],
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
        self.secrets = {
            "OAUTH_CLIENT_SECRET": self._secret(f"{name}-oauth-client-secret", client_secret),
            "JUPYTERHUB_CRYPT_KEY": self._secret(f"{name}-crypt-key", crypt_key.hex),
        }
        secret_arns = [secret.arn for secret in self.secrets.values()]
        self.execution_role = _role(
            f"{name}-execution",
            pulumi.Output.all(repository_arn, self.log_group.arn, *secret_arns).apply(
                lambda arns: execution_policy(arns[0], arns[1], arns[2:])
            ),
            child,
            permissions_boundary,
        )
        self.task_role = _role(
            f"{name}-task",
            pulumi.Output.all(files.file_system.arn, lists_object_arn).apply(
                lambda arns: task_policy(*arns)
            ),
            child,
            permissions_boundary,
        )
        region = aws.get_region_output().region
        containers = pulumi.Output.all(
            image=image,
            environment=environment,
            secrets={name: secret.arn for name, secret in self.secrets.items()},
            log_group=self.log_group.name,
            region=region,
        ).apply(lambda values: json.dumps([container_definition(**values)]))
        self.task_definition = aws.ecs.TaskDefinition(
            name,
            # One family per stack, so two stacks in one account keep their revisions apart.
            family=f"{pulumi.get_project()}-{pulumi.get_stack()}",
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
        self.cluster = aws.ecs.Cluster(name, opts=child)
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
            opts=pulumi.ResourceOptions(parent=self, depends_on=files.mount_targets),
        )
        self.register_outputs({"serviceName": self.service.name})

    def _secret(self, name: str, value: pulumi.Input[str]) -> aws.secretsmanager.Secret:
        secret = aws.secretsmanager.Secret(name, opts=pulumi.ResourceOptions(parent=self))
        aws.secretsmanager.SecretVersion(
            name,
            secret_id=secret.id,
            secret_string=pulumi.Output.secret(value),
            opts=pulumi.ResourceOptions(parent=self),
        )
        return secret


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


def execution_policy(repository_arn: str, log_group_arn: str, secret_arns: list[str]) -> str:
    """What ECS may do to start the hub: pull its image, write its logs, read its secrets."""
    return _policy(
        {"Action": "ecr:GetAuthorizationToken", "Resource": "*"},
        {"Action": PULL_ACTIONS, "Resource": repository_arn},
        {
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": f"{log_group_arn.removesuffix(':*')}:log-stream:*",
        },
        {"Action": "secretsmanager:GetSecretValue", "Resource": sorted(secret_arns)},
    )


def task_policy(file_system_arn: str, lists_object_arn: str) -> str:
    """What the hub may do: mount its file system (write, own homes as root), read its lists."""
    actions = [
        "elasticfilesystem:ClientMount",
        "elasticfilesystem:ClientRootAccess",
        "elasticfilesystem:ClientWrite",
    ]
    return _policy(
        {"Action": actions, "Resource": file_system_arn},
        {"Action": "s3:GetObject", "Resource": lists_object_arn},
    )


def _policy(*statements: dict) -> str:
    return json.dumps(
        {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", **s} for s in statements]}
    )


def _role(name: str, policy: pulumi.Input[str], child, permissions_boundary: str) -> aws.iam.Role:
    """A role that ECS tasks assume, with exactly this one inline policy."""
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
