"""Users' servers as ECS Fargate tasks: one task per server, in the hub's cluster and subnets.

Each user has an EFS access point of their own, which makes every file operation theirs (their
uid) and shows them their home only, and a task definition family of their own that mounts it:
ECS takes a task's volumes from its task definition only, never from RunTask. A new user image
registers a new revision, which new servers run; running ones keep theirs until they stop.
"""

import json
import os
import urllib.request
from dataclasses import dataclass

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from hub_image.servers import (
    CONTAINER,
    HUB_TAG,
    PENDING,
    PROVISIONING,
    PULLING,
    RUNNING,
    SERVER_PORT,
    STARTING,
    STOPPED,
    USER_TAG,
    EngineError,
    Server,
    Task,
)

# What RunTask's startedBy says of every server task, so ListTasks finds just those.
STARTED_BY = "serverless-hub"
HOME_TAG = "serverless-hub:home"
# ECS's own retries; a call that hangs must not hold a spawn for long.
_CLIENT_CONFIG = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=20)
_STATES = {"PROVISIONING": PROVISIONING, "PENDING": PENDING, "ACTIVATING": STARTING}


@dataclass(frozen=True)
class EcsSettings:
    """Where and how the hub runs servers; the program sets each in the hub's task."""

    cluster: str
    subnets: list[str]
    security_group: str
    execution_role_arn: str
    task_role_arn: str
    file_system_id: str
    log_group: str
    family: str  # each user's family is "<family>-<account>"
    cpu_architecture: str  # X86_64 or ARM64, as the user image was built
    hub: str  # this hub's name, in every task's tags


class EcsServers:
    """The ServerEngine on ECS (hub_image/servers.py)."""

    def __init__(self, settings: EcsSettings, region: str | None = None):
        self.settings = settings
        session = boto3.session.Session(region_name=region)
        self.ecs = session.client("ecs", config=_CLIENT_CONFIG)
        self.efs = session.client("efs", config=_CLIENT_CONFIG)

    def start(self, server: Server) -> str:
        try:
            return self._run(server)
        except ClientError as error:
            details = error.response.get("Error", {})
            raise EngineError(
                f"ECS did not start {server.username}'s server: "
                f"{details.get('Code')}: {details.get('Message')}"
            ) from None

    def _run(self, server: Server) -> str:
        access_point = self._access_point(server)
        task_definition = self._task_definition(server, access_point)
        tags = [
            {"key": USER_TAG, "value": server.username},
            {"key": HUB_TAG, "value": self.settings.hub},
        ]
        answer = self.ecs.run_task(
            cluster=self.settings.cluster,
            taskDefinition=task_definition,
            launchType="FARGATE",
            count=1,
            startedBy=STARTED_BY,
            tags=tags,
            enableECSManagedTags=True,
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": self.settings.subnets,
                    "securityGroups": [self.settings.security_group],
                    # Public subnets without NAT: the task pulls its image by its own address.
                    "assignPublicIp": "ENABLED",
                }
            },
            overrides={
                "cpu": str(server.cpu),
                "memory": str(server.memory),
                "containerOverrides": [
                    {
                        "name": CONTAINER,
                        "command": server.command,
                        "environment": [
                            {"name": key, "value": value}
                            for key, value in sorted(server.environment.items())
                        ],
                    }
                ],
            },
        )
        if answer.get("failures") or not answer.get("tasks"):
            reasons = "; ".join(
                f"{failure.get('reason')} {failure.get('detail', '')}".strip()
                for failure in answer.get("failures", [])
            )
            raise EngineError(f"ECS did not start {server.username}'s server: {reasons}")
        return answer["tasks"][0]["taskArn"]

    def describe(self, task_id: str) -> Task:
        answer = self.ecs.describe_tasks(
            cluster=self.settings.cluster, tasks=[task_id], include=["TAGS"]
        )
        if not answer["tasks"]:
            return Task(task_id, STOPPED, reason="ECS no longer knows the task")
        return _task(answer["tasks"][0])

    def stop(self, task_id: str, reason: str) -> None:
        try:
            self.ecs.stop_task(cluster=self.settings.cluster, task=task_id, reason=reason[:255])
        except ClientError as error:
            # A task that is already gone is stopped.
            if error.response["Error"]["Code"] not in ("InvalidParameterException",):
                raise

    def tasks(self) -> list[Task]:
        arns = [
            arn
            for page in self.ecs.get_paginator("list_tasks").paginate(
                cluster=self.settings.cluster, startedBy=STARTED_BY, desiredStatus="RUNNING"
            )
            for arn in page["taskArns"]
        ]
        found = []
        # DescribeTasks takes at most 100 tasks at a time.
        for start in range(0, len(arns), 100):
            answer = self.ecs.describe_tasks(
                cluster=self.settings.cluster, tasks=arns[start : start + 100], include=["TAGS"]
            )
            found += [_task(task) for task in answer["tasks"]]
        return [task for task in found if task.state != STOPPED]

    def hub_address(self) -> str:
        """The hub task's own private address, as ECS's task metadata endpoint gives it."""
        endpoint = os.environ.get("ECS_CONTAINER_METADATA_URI_V4", "")
        if not endpoint:
            raise SystemExit(
                "ECS_CONTAINER_METADATA_URI_V4: is not set; outside ECS, set HUB_CONNECT_IP to "
                "an address of the hub that its users' servers reach"
            )
        with urllib.request.urlopen(endpoint, timeout=10) as answer:  # noqa: S310 (ECS's own)
            metadata = json.load(answer)
        return metadata["Networks"][0]["IPv4Addresses"][0]

    def _access_point(self, server: Server) -> str:
        """The user's own access point: their uid for every file operation, their home as root."""
        for page in self.efs.get_paginator("describe_access_points").paginate(
            FileSystemId=self.settings.file_system_id
        ):
            for point in page["AccessPoints"]:
                tags = {tag["Key"]: tag["Value"] for tag in point.get("Tags", [])}
                if tags.get(HOME_TAG) != server.home:
                    continue
                if point.get("PosixUser", {}).get("Uid") == server.uid:
                    return point["AccessPointId"]
                # The home was released to another identity, with a new uid: its old door goes.
                self.efs.delete_access_point(AccessPointId=point["AccessPointId"])
        point = self.efs.create_access_point(
            # The same token for the same home and uid: a retried start makes no second one.
            ClientToken=f"{server.home}-{server.uid}"[-64:],
            FileSystemId=self.settings.file_system_id,
            PosixUser={"Uid": server.uid, "Gid": server.uid},
            RootDirectory={
                "Path": f"/home/{server.home}",
                "CreationInfo": {
                    "OwnerUid": server.uid,
                    "OwnerGid": server.uid,
                    "Permissions": "700",
                },
            },
            Tags=[
                {"Key": HOME_TAG, "Value": server.home},
                {"Key": HUB_TAG, "Value": self.settings.hub},
            ],
        )
        return point["AccessPointId"]

    def _task_definition(self, server: Server, access_point: str) -> str:
        """The user's task definition for this image and access point: the newest, or a new one."""
        family = f"{self.settings.family}-{server.account}"
        wanted = self._definition(server, family, access_point)
        try:
            current = self.ecs.describe_task_definition(taskDefinition=family)["taskDefinition"]
        except ClientError as error:
            # ECS's answer for a family with no revision yet; throttling or a refusal is no answer.
            if error.response["Error"]["Code"] != "ClientException":
                raise
            current = None
        if current and _runs(current) == _runs(wanted):
            return current["taskDefinitionArn"]
        made = self.ecs.register_task_definition(**wanted)["taskDefinition"]
        if current:
            # Running tasks keep their revision; new servers take the new one.
            self.ecs.deregister_task_definition(taskDefinition=current["taskDefinitionArn"])
        return made["taskDefinitionArn"]

    def _definition(self, server: Server, family: str, access_point: str) -> dict:
        """RegisterTaskDefinition's request for a user's server (cpu and memory per RunTask)."""
        home = f"/home/{server.home}"
        return {
            "family": family,
            "requiresCompatibilities": ["FARGATE"],
            "networkMode": "awsvpc",
            # The smallest size; each RunTask asks for the size the user picked.
            "cpu": "256",
            "memory": "512",
            "runtimePlatform": {
                "operatingSystemFamily": "LINUX",
                "cpuArchitecture": self.settings.cpu_architecture,
            },
            "executionRoleArn": self.settings.execution_role_arn,
            "taskRoleArn": self.settings.task_role_arn,
            "containerDefinitions": [
                {
                    "name": CONTAINER,
                    "image": server.image,
                    "essential": True,
                    # A soft reservation below every size (the task's size is the limit); moto's
                    # ECS, like ECS on EC2, places a task only with one.
                    "memoryReservation": 256,
                    # Their own uid, which the access point enforces on every file too.
                    "user": f"{server.uid}:{server.uid}",
                    "portMappings": [{"containerPort": SERVER_PORT, "protocol": "tcp"}],
                    "mountPoints": [{"sourceVolume": "home", "containerPath": home}],
                    "linuxParameters": {"initProcessEnabled": True},
                    "logConfiguration": {
                        "logDriver": "awslogs",
                        "options": {
                            "awslogs-group": self.settings.log_group,
                            "awslogs-region": self.ecs.meta.region_name,
                            "awslogs-stream-prefix": "server",
                        },
                    },
                }
            ],
            "volumes": [
                {
                    "name": "home",
                    "efsVolumeConfiguration": {
                        "fileSystemId": self.settings.file_system_id,
                        "transitEncryption": "ENABLED",
                        "authorizationConfig": {"accessPointId": access_point, "iam": "ENABLED"},
                    },
                }
            ],
            "tags": [
                {"key": USER_TAG, "value": server.username},
                {"key": HUB_TAG, "value": self.settings.hub},
            ],
        }


def _runs(definition: dict) -> tuple:
    """What a task definition runs: image, uid, home and mount, roles and architecture (ECS fills
    in defaults of its own, such as a volume's rootDirectory, when it describes one)."""
    [container] = definition["containerDefinitions"]
    [volume] = definition["volumes"]
    efs = volume["efsVolumeConfiguration"]
    return (
        container.get("image"),
        container.get("user"),
        json.dumps(container.get("mountPoints"), sort_keys=True),
        efs.get("fileSystemId"),
        efs.get("authorizationConfig", {}).get("accessPointId"),
        definition.get("taskRoleArn"),
        definition.get("executionRoleArn"),
        definition.get("runtimePlatform", {}).get("cpuArchitecture"),
    )


def _task(task: dict) -> Task:
    """An ECS task as the spawner sees it."""
    status = task.get("lastStatus", "")
    state = _STATES.get(status, RUNNING if status == "RUNNING" else STOPPED)
    if state == PENDING and task.get("pullStartedAt") and not task.get("pullStoppedAt"):
        state = PULLING
    address = next(
        (
            detail["value"]
            for attachment in task.get("attachments", [])
            for detail in attachment.get("details", [])
            if detail["name"] == "privateIPv4Address"
        ),
        None,
    )
    reasons = [task.get("stoppedReason", "")]
    reasons += [container.get("reason", "") for container in task.get("containers", [])]
    tags = {tag["key"]: tag["value"] for tag in task.get("tags", [])}
    return Task(
        id=task["taskArn"],
        state=state,
        address=address,
        reason="; ".join(reason for reason in reasons if reason),
        username=tags.get(USER_TAG, ""),
    )
