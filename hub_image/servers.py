"""What the hub asks of the engine that runs users' servers, whichever engine it is.

On AWS the engine is ECS (servers_on_ecs.py): each server is a Fargate task of its own. On this
machine it is the local Docker engine (servers_on_docker.py): each server a container of its own,
from the same user image, with the same environment, uid and home. The spawner (spawner.py) speaks
only this module's terms.
"""

from dataclasses import dataclass, field
from typing import Protocol

# Where a user's server listens in its own task or container.
SERVER_PORT = 8888
# The container's name in each task definition, and the label/tag keys the hub finds servers by.
CONTAINER = "server"
USER_TAG = "serverless-hub:user"
HUB_TAG = "serverless-hub:hub"

# A server's states, as the spawn page shows them.
PROVISIONING = "provisioning"
PENDING = "pending"
PULLING = "pulling the image"
STARTING = "starting"
RUNNING = "running"
STOPPED = "stopped"


@dataclass(frozen=True)
class Server:
    """One user's server, as the hub starts it."""

    username: str  # the hub username
    account: str  # the user's name in their server, also in their task's and container's names
    home: str  # their home directory's name: /home/<home> in the server and on the file system
    uid: int  # the uid it runs as, which owns its home
    image: str  # the user image, by digest
    cpu: int  # CPU units: 1024 is one vCPU
    memory: int  # MiB
    environment: dict[str, str] = field(default_factory=dict)
    command: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Task:
    """A server's task or container as the engine reports it."""

    id: str
    state: str
    address: str | None = None  # where the hub reaches it, once it has one
    reason: str = ""  # why it stopped, in the engine's words
    username: str = ""  # whose it is, from its tag


class ServerEngine(Protocol):
    """Blocking calls (the spawner makes them off the event loop)."""

    def start(self, server: Server) -> str:
        """Start the server; return its task's id at once, before it runs."""

    def describe(self, task_id: str) -> Task:
        """The task as it is now; STOPPED once it is gone."""

    def stop(self, task_id: str, reason: str) -> None:
        """Stop the task and every process in it; nothing if it is gone."""

    def tasks(self) -> list[Task]:
        """Every server task this hub has started that has not stopped."""

    def hub_address(self) -> str:
        """Where servers reach the hub's API: an address of the hub's own, on their network."""


class EngineError(RuntimeError):
    """A server could not start: the engine refused it, its task stopped before it was ready, or
    it took too long. JupyterHub shows the message on the spawn page."""

    @property
    def jupyterhub_message(self) -> str:
        return str(self)


def engine_from(environ) -> ServerEngine:
    """The engine the environment names (SERVERS_ENGINE: ecs or docker) with its settings; a
    missing or bad one stops the hub at start with one line naming it."""

    def required(name: str) -> str:
        value = environ.get(name, "").strip()
        if not value:
            raise SystemExit(f"{name}: is not set; SERVERS_ENGINE={kind} needs it")
        return value

    kind = environ.get("SERVERS_ENGINE", "").strip()
    if kind == "ecs":
        from hub_image.servers_on_ecs import EcsServers, EcsSettings

        return EcsServers(
            EcsSettings(
                cluster=required("SERVERS_CLUSTER"),
                subnets=required("SERVERS_SUBNETS").split(","),
                security_group=required("SERVERS_SECURITY_GROUP"),
                execution_role_arn=required("SERVERS_EXECUTION_ROLE_ARN"),
                task_role_arn=required("SERVERS_TASK_ROLE_ARN"),
                file_system_id=required("SERVERS_FILE_SYSTEM_ID"),
                log_group=required("SERVERS_LOG_GROUP"),
                family=required("SERVERS_FAMILY"),
                cpu_architecture=required("SERVERS_CPU_ARCHITECTURE"),
                hub=required("SERVERS_HUB"),
            )
        )
    if kind == "docker":
        from hub_image.servers_on_docker import DockerServers, DockerSettings

        hub = required("SERVERS_HUB")
        return DockerServers(
            DockerSettings(
                hub=hub,
                network=environ.get("SERVERS_NETWORK", "").strip() or f"{hub}-servers",
                homes=required("SERVERS_HOMES_ON_HOST"),
            )
        )
    raise SystemExit(
        f"SERVERS_ENGINE: must be ecs (users' servers as ECS tasks) or docker (as containers "
        f"on this machine's Docker engine), got {kind!r}"
    )
