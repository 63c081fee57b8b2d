"""Users' servers as ECS tasks: the hub's calls against moto's ECS and EFS on loopback.

Every request the hub makes is held to the services' rules (service_rules: botocore's models,
their patterns and ECS's rules for Fargate) as it is sent, and moto answers it as ECS and EFS
would store it. What only ECS itself can show (Fargate starting the task, EFS mounting the access
point) is in the closing notes, not here.
"""

import re

import pytest
import requests

import service_rules
from hub_image.servers import (
    PENDING,
    PROVISIONING,
    PULLING,
    RUNNING,
    STARTING,
    STOPPED,
    EngineError,
    Server,
)
from hub_image.servers_on_ecs import EcsServers, EcsSettings, _task

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/serverless-hub-test-user@sha256:" + "a" * 64
NEWER_IMAGE = IMAGE.replace("a" * 64, "b" * 64)
JANE = Server(
    username="jane.doe@uni.nl",
    account="jane_doe_uni_nl",
    home="jane_doe_uni_nl",
    uid=1001,
    image=IMAGE,
    cpu=1024,
    memory=4096,
    environment={"JUPYTERHUB_USER": "jane.doe@uni.nl"},
    command=["jupyterhub-singleuser", "--KernelManager.transport=ipc"],
)


@pytest.fixture
def aws(s3, monkeypatch):
    """moto on loopback (the S3 stand-in's server answers ECS, EFS and EC2 too), tasks that stay
    RUNNING until stopped, and the hub's clients pointed at it."""
    env = s3.environment()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for service in ("ECS", "EFS", "EC2"):
        monkeypatch.setenv(f"AWS_ENDPOINT_URL_{service}", s3.url)
    # moto moves a task on at every describe unless told to wait; ECS moves it when it moves.
    requests.post(
        f"{s3.url}/moto-api/state-manager/set-transition",
        json={"model_name": "ecs::task", "transition": {"progression": "manual", "times": 10**6}},
        timeout=10,
    ).raise_for_status()
    return s3


@pytest.fixture
def account(aws, request):
    """A cluster, a file system and a security group in the default VPC, as the program makes."""
    import boto3

    session = boto3.session.Session(region_name="eu-west-1")
    ec2, ecs, efs = (session.client(name) for name in ("ec2", "ecs", "efs"))
    [vpc] = [v["VpcId"] for v in ec2.describe_vpcs()["Vpcs"] if v["IsDefault"]]
    subnets = sorted(
        s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    )
    # moto keeps what each test makes: every test gets its own names.
    name = re.sub(r"[^a-z0-9-]+", "-", request.node.name[5:].lower())[-40:].strip("-")
    group = ec2.create_security_group(GroupName=name, Description="User servers", VpcId=vpc)
    cluster = ecs.create_cluster(clusterName=name)["cluster"]["clusterArn"]
    file_system = efs.create_file_system(CreationToken=name, Encrypted=True)["FileSystemId"]
    settings = EcsSettings(
        cluster=cluster,
        subnets=subnets,
        security_group=group["GroupId"],
        execution_role_arn="arn:aws:iam::123456789012:role/serverless-hub/hub-servers-execution-1a2b3c4",
        task_role_arn="arn:aws:iam::123456789012:role/serverless-hub/hub-servers-task-5d6e7f8",
        file_system_id=file_system,
        log_group="hub-servers-9a8b7c6",
        family=f"{name}-server",
        cpu_architecture="X86_64",
        hub="serverless-hub-test",
    )
    return settings, ecs, efs


@pytest.fixture
def checked():
    """Each request the hub's engine sends, held to the services' rules as it goes."""
    problems = []

    def hold(engine: EcsServers) -> EcsServers:
        for client in (engine.ecs, engine.efs):
            service = client.meta.service_model.service_name

            def check(params, model, service=service, **_):
                request = service_rules.Request("hub", service, model.name, params)
                problems.extend(service_rules.problems([request], service_rules.Account({})))

            client.meta.events.register("provide-client-params", check)
        return engine

    yield hold
    assert problems == []


def test_a_server_is_a_fargate_task_of_its_own_in_the_hubs_cluster(account, checked):
    settings, ecs, _ = account
    engine = checked(EcsServers(settings))
    task_id = engine.start(JANE)
    [task] = ecs.describe_tasks(cluster=settings.cluster, tasks=[task_id])["tasks"]
    assert task["clusterArn"] == settings.cluster
    assert task["launchType"] == "FARGATE"
    assert task["startedBy"] == "serverless-hub"
    # The size the user picked, and the server's own environment and command.
    assert task["overrides"]["cpu"] == "1024" and task["overrides"]["memory"] == "4096"
    [container] = task["overrides"]["containerOverrides"]
    assert container["command"] == JANE.command
    assert container["environment"] == [{"name": "JUPYTERHUB_USER", "value": "jane.doe@uni.nl"}]
    found = engine.describe(task_id)
    assert (found.state, found.username) == (RUNNING, "jane.doe@uni.nl")
    # Reached at the task's own private address.
    assert found.address and found.address.count(".") == 3


def test_the_task_runs_as_the_users_uid_with_only_their_home(account, checked):
    settings, ecs, efs = account
    engine = checked(EcsServers(settings))
    task_id = engine.start(JANE)
    [task] = ecs.describe_tasks(cluster=settings.cluster, tasks=[task_id])["tasks"]
    definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])
    definition = definition["taskDefinition"]
    assert definition["family"] == f"{settings.family}-jane_doe_uni_nl"
    [container] = definition["containerDefinitions"]
    assert container["image"] == IMAGE
    assert container["user"] == "1001:1001"
    assert container["mountPoints"] == [
        {"sourceVolume": "home", "containerPath": "/home/jane_doe_uni_nl"}
    ]
    assert definition["taskRoleArn"] == settings.task_role_arn
    [volume] = definition["volumes"]
    access_point = volume["efsVolumeConfiguration"]["authorizationConfig"]["accessPointId"]
    [point] = efs.describe_access_points(AccessPointId=access_point)["AccessPoints"]
    # The access point makes every file operation theirs, and shows them their home only.
    assert point["FileSystemId"] == settings.file_system_id
    assert point["PosixUser"] == {"Uid": 1001, "Gid": 1001}
    assert point["RootDirectory"]["Path"] == "/home/jane_doe_uni_nl"
    assert point["RootDirectory"]["CreationInfo"]["Permissions"] == "700"


def test_a_second_start_reuses_its_access_point_and_a_new_image_takes_a_new_revision(
    account, checked
):
    settings, ecs, efs = account
    engine = checked(EcsServers(settings))
    first = engine.start(JANE)
    engine.stop(first, "stopped by test")
    second = engine.start(JANE)
    family = f"{settings.family}-jane_doe_uni_nl"
    assert len(ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]) == 1
    assert (
        len(efs.describe_access_points(FileSystemId=settings.file_system_id)["AccessPoints"]) == 1
    )
    # A new user image: new servers run a new revision; the old one is left to running ones.
    third = engine.start(Server(**{**JANE.__dict__, "image": NEWER_IMAGE}))
    tasks = ecs.describe_tasks(cluster=settings.cluster, tasks=[second, third])["tasks"]
    revisions = {t["taskArn"]: t["taskDefinitionArn"] for t in tasks}
    assert revisions[second] != revisions[third]
    active = ecs.list_task_definitions(familyPrefix=family)["taskDefinitionArns"]
    assert active == [revisions[third]]


def test_a_home_released_to_a_new_identity_gets_a_new_access_point(account, checked):
    settings, ecs, efs = account
    engine = checked(EcsServers(settings))
    engine.stop(engine.start(JANE), "stopped by test")
    [old] = efs.describe_access_points(FileSystemId=settings.file_system_id)["AccessPoints"]
    # The name's new owner (a new identity) has a new uid: the old uid's door to the home goes.
    new_owner = Server(**{**JANE.__dict__, "uid": 1002})
    task_id = engine.start(new_owner)
    [point] = efs.describe_access_points(FileSystemId=settings.file_system_id)["AccessPoints"]
    assert point["AccessPointId"] != old["AccessPointId"]
    assert point["PosixUser"] == {"Uid": 1002, "Gid": 1002}
    assert point["RootDirectory"]["CreationInfo"]["OwnerUid"] == 1002
    [task] = ecs.describe_tasks(cluster=settings.cluster, tasks=[task_id])["tasks"]
    definition = ecs.describe_task_definition(taskDefinition=task["taskDefinitionArn"])
    [volume] = definition["taskDefinition"]["volumes"]
    authorization = volume["efsVolumeConfiguration"]["authorizationConfig"]
    assert authorization["accessPointId"] == point["AccessPointId"]


def test_a_restarted_hub_finds_its_running_servers(account, checked):
    settings, _, _ = account
    jane = checked(EcsServers(settings)).start(JANE)
    ben = Server(
        **{**JANE.__dict__, "username": "ben", "account": "ben", "home": "ben", "uid": 1002}
    )
    bens = checked(EcsServers(settings)).start(ben)
    stopped = checked(EcsServers(settings)).start(
        Server(**{**JANE.__dict__, "username": "cat", "account": "cat", "home": "cat", "uid": 1003})
    )
    EcsServers(settings).stop(stopped, "stopped by test")
    # A new hub: nothing in memory, only what ECS answers.
    found = checked(EcsServers(settings)).tasks()
    assert {(task.id, task.username) for task in found} == {
        (jane, "jane.doe@uni.nl"),
        (bens, "ben"),
    }


def test_stopping_a_server_stops_its_task_with_the_reason(account, checked):
    settings, ecs, _ = account
    engine = checked(EcsServers(settings))
    task_id = engine.start(JANE)
    engine.stop(task_id, "Stopped by the hub: jane.doe@uni.nl's server was culled")
    found = engine.describe(task_id)
    assert found.state == STOPPED
    assert found.reason == "Stopped by the hub: jane.doe@uni.nl's server was culled"
    # A second stop of a stopped task is no error.
    engine.stop(task_id, "again")


def test_a_start_ecs_refuses_says_why_on_the_spawn_page(account):
    settings, _, _ = account
    gone = EcsSettings(**{**settings.__dict__, "cluster": settings.cluster + "-gone"})
    with pytest.raises(EngineError) as refused:
        EcsServers(gone).start(JANE)
    assert refused.value.jupyterhub_message.startswith(
        "ECS did not start jane.doe@uni.nl's server: ClusterNotFoundException: "
    )


@pytest.mark.parametrize(
    ("task", "state", "reason"),
    [
        ({"lastStatus": "PROVISIONING"}, PROVISIONING, ""),
        ({"lastStatus": "PENDING"}, PENDING, ""),
        ({"lastStatus": "PENDING", "pullStartedAt": "2026-12-01T10:00:00Z"}, PULLING, ""),
        (
            {
                "lastStatus": "PENDING",
                "pullStartedAt": "2026-12-01T10:00:00Z",
                "pullStoppedAt": "2026-12-01T10:00:40Z",
            },
            PENDING,
            "",
        ),
        ({"lastStatus": "ACTIVATING"}, STARTING, ""),
        ({"lastStatus": "RUNNING"}, RUNNING, ""),
        (
            {
                "lastStatus": "STOPPED",
                "stoppedReason": "Essential container in task exited",
                "containers": [
                    {"reason": "OutOfMemoryError: Container killed due to memory usage"}
                ],
            },
            STOPPED,
            "Essential container in task exited; OutOfMemoryError: Container killed due to memory "
            "usage",
        ),
        ({"lastStatus": "DEACTIVATING"}, STOPPED, ""),
    ],
)
def test_ecs_states_are_the_spawn_pages_states(task, state, reason):
    found = _task({"taskArn": "arn:aws:ecs:eu-west-1:1:task/hub/1"} | task)
    assert (found.state, found.reason) == (state, reason)
