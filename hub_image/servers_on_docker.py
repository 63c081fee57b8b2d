"""Users' servers as containers on the local Docker engine: the counterpart of ECS tasks here.

For `make try` and the tests: each server is a container of its own, from the user image, with
the same environment, uid and home as its task on ECS. Its home is the user's directory alone,
bind-mounted (an access point's counterpart), and the containers share a bridge network on which
they cannot reach each other (no inter-container traffic), only be reached by the hub, as the
servers' security group admits only the hub.
"""

from dataclasses import dataclass

import docker
import docker.errors

from hub_image.servers import (
    HUB_TAG,
    RUNNING,
    STARTING,
    STOPPED,
    USER_TAG,
    EngineError,
    Server,
    Task,
)

# A stopping server gets this long to end its kernels before it is killed (as ECS's default).
STOP_SECONDS = 30


@dataclass(frozen=True)
class DockerSettings:
    hub: str  # this hub's name: its containers' label, and their names' start
    network: str  # the servers' bridge network, made if missing
    homes: str  # the homes directory on the engine's machine (the hub's /home)


class DockerServers:
    """The ServerEngine on the local Docker engine (hub_image/servers.py)."""

    def __init__(self, settings: DockerSettings):
        self.settings = settings
        self._client = None

    @property
    def client(self) -> docker.DockerClient:
        # Made at first use: the client asks the engine its version as it is made.
        self._client = self._client or docker.from_env(timeout=60)
        return self._client

    def hub_address(self) -> str:
        """The servers' network (made if missing): its gateway is where they reach the hub."""
        try:
            network = self.client.networks.get(self.settings.network)
        except docker.errors.NotFound:
            network = self.client.networks.create(
                self.settings.network,
                driver="bridge",
                # No server reaches another; each reaches the hub and the internet.
                options={"com.docker.network.bridge.enable_icc": "false"},
                labels={HUB_TAG: self.settings.hub},
            )
        return network.attrs["IPAM"]["Config"][0]["Gateway"]

    def start(self, server: Server) -> str:
        name = f"{self.settings.hub}-{server.account}"
        try:
            # A container left from a server that stopped by itself is removed first.
            self.client.containers.get(name).remove(force=True)
        except docker.errors.NotFound:
            pass
        try:
            container = self.client.containers.run(
                server.image,
                server.command,
                name=name,
                detach=True,
                user=f"{server.uid}:{server.uid}",
                environment=server.environment,
                labels={USER_TAG: server.username, HUB_TAG: self.settings.hub},
                network=self.settings.network,
                # The size's memory is a hard limit, as a task's is; CPU units as ECS counts them.
                mem_limit=f"{server.memory}m",
                memswap_limit=f"{server.memory}m",
                nano_cpus=server.cpu * 10**9 // 1024,
                volumes={
                    f"{self.settings.homes}/{server.home}": {
                        "bind": f"/home/{server.home}",
                        "mode": "rw",
                    }
                },
                # An init reaps finished kernels' orphans, as initProcessEnabled does on ECS.
                init=True,
            )
        except docker.errors.ImageNotFound:
            raise EngineError(
                f"the user image {server.image} is not on this Docker engine"
            ) from None
        except docker.errors.APIError as error:
            raise EngineError(
                f"Docker did not start {server.username}'s server: {error.explanation}"
            ) from None
        return container.id

    def describe(self, task_id: str) -> Task:
        try:
            container = self.client.containers.get(task_id)
        except docker.errors.NotFound:
            return Task(task_id, STOPPED, reason="the container is gone")
        return self._task(container)

    def stop(self, task_id: str, reason: str) -> None:
        # Stopping the container ends every process in it, kernels and detached ones alike. One
        # already gone (removed between two calls, or by hand) is stopped.
        try:
            container = self.client.containers.get(task_id)
            container.stop(timeout=STOP_SECONDS)
            container.remove(force=True)
        except docker.errors.NotFound:
            return

    def tasks(self) -> list[Task]:
        containers = self.client.containers.list(
            filters={"label": f"{HUB_TAG}={self.settings.hub}"}
        )
        return [task for task in map(self._task, containers) if task.state != STOPPED]

    def _task(self, container) -> Task:
        state = container.attrs["State"]
        status = state.get("Status")
        address = (
            container.attrs["NetworkSettings"]["Networks"]
            .get(self.settings.network, {})
            .get("IPAddress")
        )
        reason = ""
        if status in ("exited", "dead"):
            reason = f"exit code {state.get('ExitCode')}"
            if state.get("OOMKilled"):
                reason = "OutOfMemoryError: the server used more than its size's memory"
            elif state.get("Error"):
                reason += f": {state['Error']}"
        return Task(
            id=container.id,
            state={"created": STARTING, "running": RUNNING}.get(status, STOPPED),
            address=address or None,
            reason=reason,
            username=container.labels.get(USER_TAG, ""),
        )
