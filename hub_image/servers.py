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
    account: str  # its home directory's name, also the task's and container's
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


class EngineError(RuntimeError):
    """The engine refused to start a server; JupyterHub shows the message on the spawn page."""

    @property
    def jupyterhub_message(self) -> str:
        return str(self)
