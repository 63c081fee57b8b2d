"""The hub's container started with docker exactly as the declared ECS task definition says.

From one program run under mocks (local/program.py) and the images pushed for it (local/image.py):
the task's one container, its image by digest from the registry, its environment and secrets, its
volumes, its port and its init; and the objects `pulumi up` writes to S3 (the user lists, the
users' servers), written to S3's stand-in. What is substituted, as nothing here is AWS:
- the hub's public URL becomes its local one (http://localhost:<port>, whose subdomains browsers
  take to this machine too), and Cognito's domain the Cognito-like provider's on loopback;
- ECS becomes this machine's Docker engine: each user's server a container from the pushed user
  image, its home a directory of the declared home volume (as an EFS access point is one of the
  file system's), the hub's name this run's, so that runs keep apart.

    task = DeclaredTask(declared, pushed, provider.url, "try", docker_config, s3)
    task.publish_objects(declared)  # as `pulumi up` writes them before the service starts
    task.start()  # then poll the target group's health check at task.url
    task.stop()  # start() again: a new container on the same volumes; servers run on
    task.remove()  # the servers, their network and the volumes
"""

import json
import os
import socket
import subprocess
from pathlib import Path

from local.aws_stand_in import S3StandIn
from local.docker_cli import docker
from local.image import Pushed
from local.program import Declared

TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"  # noqa: S105 (a type)
LISTS_OBJECT = "aws:s3/bucketObjectv2:BucketObjectv2"
# The hub's settings for ECS (hub_image/servers.py's engine_from), none of which apply here.
ECS_SETTINGS = {
    "SERVERS_CLUSTER", "SERVERS_SUBNETS", "SERVERS_SECURITY_GROUP", "SERVERS_EXECUTION_ROLE_ARN",
    "SERVERS_TASK_ROLE_ARN", "SERVERS_FILE_SYSTEM_ID", "SERVERS_LOG_GROUP", "SERVERS_FAMILY",
    "SERVERS_CPU_ARCHITECTURE",
}  # fmt: skip
HOMES_PATH = "/home"
DOCKER_SOCKET = "/var/run/docker.sock"
# The label each server container of a hub carries (hub_image/servers.py's HUB_TAG).
HUB_LABEL = "serverless-hub:hub"
# JupyterHub's ports for its internal API and its proxy's API: the task leaves them as they are.
HUB_INTERNAL_PORTS = (8081, 8001)
# What this runner carries over; a container definition that sets more would run differently here.
CARRIED = {
    "name", "image", "essential", "portMappings", "environment", "secrets", "mountPoints",
    "linuxParameters", "logConfiguration", "entryPoint", "command",
}  # fmt: skip
CARRIED_LINUX_PARAMETERS = {"initProcessEnabled"}


class PortTaken(RuntimeError):
    """A port the hub binds on this machine is in use already."""


class DeclaredTask:
    """The declared task on this machine; start() after stop() is a new container, same volumes.

    `name` names its container and volumes (`<name>-<declared volume>`), apart from other runs'.
    """

    def __init__(
        self,
        declared: Declared,
        pushed: dict[str, Pushed],
        provider_url: str,
        name: str,
        docker_config: Path,
        s3: S3StandIn | None = None,
    ):
        definition = declared.resource(TASK_DEFINITION).inputs
        [self.container] = json.loads(definition["containerDefinitions"])
        linux = self.container.get("linuxParameters", {})
        unknown = sorted(set(self.container) - CARRIED) + sorted(
            f"linuxParameters.{key}" for key in set(linux) - CARRIED_LINUX_PARAMETERS
        )
        if unknown:
            raise ValueError(f"the task's container sets {unknown}, which this runner ignores")
        self.image = _pinned(self.container["image"], pushed["hub"])
        self.pushed_user = pushed["user"]
        self.init = bool(linux.get("initProcessEnabled"))
        [mapping] = self.container["portMappings"]
        # awsvpc runs as host networking: the container's port is the host's, as it is the ENI's.
        self.port = mapping["containerPort"]
        env = {pair["name"]: pair["value"] for pair in self.container["environment"]}
        # With user subdomains the hub is reached by name, as <user>.localhost reaches it too.
        host = "localhost" if env.get("USER_SUBDOMAINS") == "true" else "127.0.0.1"
        self.url = f"http://{host}:{self.port}"
        self.public_url = declared.outputs["hubUrl"].value
        self.provider_url = provider_url
        self.docker_config = docker_config
        self.s3 = s3
        self.name = f"{name}-{self.container['name']}"
        # Each declared volume's path in the container, and the docker volume that stands in for it.
        self.mounts = {m["sourceVolume"]: m["containerPath"] for m in self.container["mountPoints"]}
        undeclared = set(self.mounts) - {volume["name"] for volume in definition["volumes"]}
        if undeclared:
            raise ValueError(f"the task's container mounts {sorted(undeclared)}, not task volumes")
        self.volumes = {source: f"{name}-{source}" for source in self.mounts}
        if HOMES_PATH not in self.mounts.values():
            raise ValueError(f"the task's container mounts nothing at {HOMES_PATH}")
        # This run's hub: its servers' label and network, apart from other runs'.
        self.hub_name = name
        self.secret_values = {
            version.inputs["secretId"]: version.inputs["secretString"]
            for version in declared.resources
            if version.type == SECRET_VERSION
        }

    def local_url(self, url: str) -> str:
        """A URL below the hub's public one, as the hub is reached on this machine."""
        if not url.startswith(f"{self.public_url}/"):
            raise ValueError(f"{url} is not below the hub's URL {self.public_url}")
        return self.url + url.removeprefix(self.public_url)

    def environment(self) -> dict[str, str]:
        """The container's environment: the task's entries, then its secrets' values."""
        env = {pair["name"]: pair["value"] for pair in self.container["environment"]}
        missing = {"OAUTH_CALLBACK_URL", "COGNITO_DOMAIN", "PUBLIC_URL", "SERVERS_ENGINE"} - set(
            env
        )
        if missing:
            raise ValueError(f"the task's environment has no {sorted(missing)}")
        # The hub answers on loopback here, not at https://<hubDomain> behind the load balancer.
        env["OAUTH_CALLBACK_URL"] = self.local_url(env["OAUTH_CALLBACK_URL"])
        if env["PUBLIC_URL"] != self.public_url:
            raise ValueError(f"PUBLIC_URL is {env['PUBLIC_URL']}, not the hub's {self.public_url}")
        env["PUBLIC_URL"] = self.url
        if env["SERVERS_ENGINE"] != "ecs":
            raise ValueError(f"the task runs servers on {env['SERVERS_ENGINE']!r}, not ecs")
        # ECS's counterpart here: containers on this engine, homes in the declared home volume.
        env = {key: value for key, value in env.items() if key not in ECS_SETTINGS}
        env |= {
            "SERVERS_ENGINE": "docker",
            "SERVERS_HUB": self.hub_name,
            "SERVERS_HOMES_ON_HOST": self._homes_on_host(),
        }
        # The Cognito-like provider answers at Cognito's paths; the hub allows http on loopback.
        env["COGNITO_DOMAIN"] = self.provider_url
        # ECS reads each from Secrets Manager at start: here, the value the program declared.
        for secret in self.container["secrets"]:
            env[secret["name"]] = self.secret_values[secret["valueFrom"]]
        if "USER_LISTS_URL" in env or "USER_SERVERS_URL" in env:
            if self.s3 is None:
                raise ValueError("the task reads objects from S3: give DeclaredTask an s3 stand-in")
            # On ECS the task role's credentials reach S3; here, S3's stand-in on loopback.
            env |= self.s3.environment()
        return env

    def _homes_on_host(self) -> str:
        """Where the declared home volume's files are on this machine, for servers to mount."""
        [source] = [source for source, path in self.mounts.items() if path == HOMES_PATH]
        docker("volume", "create", self.volumes[source])
        return docker(
            "volume", "inspect", "--format", "{{.Mountpoint}}", self.volumes[source]
        ).strip()

    def publish_objects(self, declared: Declared) -> None:
        """Write the S3 objects as `pulumi up` would, from a (possibly newer) program run; the
        users' servers' image as pushed (the mocks make its declared digest up)."""
        client = self.s3.client()
        for made in [r.inputs for r in declared.resources if r.type == LISTS_OBJECT]:
            content = made["content"]
            if made["key"] == "user-servers.json":
                servers = json.loads(content)
                servers["image"] = _pinned(servers["image"], self.pushed_user)
                content = json.dumps(servers)
            if made["bucket"] not in {b["Name"] for b in client.list_buckets()["Buckets"]}:
                client.create_bucket(
                    Bucket=made["bucket"],
                    CreateBucketConfiguration={"LocationConstraint": client.meta.region_name},
                )
            client.put_object(Bucket=made["bucket"], Key=made["key"], Body=content.encode())

    def start(self) -> None:
        """Pull the image by digest and start the container; the caller waits for its health."""
        taken = [port for port in (self.port, *HUB_INTERNAL_PORTS) if not _free(port)]
        if taken:
            raise PortTaken(f"port(s) {taken} in use here; the hub needs them: stop what uses them")
        # ECS pulls with the execution role's ECR login; here, the registry login of the push.
        login = dict(os.environ, DOCKER_CONFIG=str(self.docker_config))
        docker("pull", self.image, env=login)
        # So does each server's task; here the engine has the user image before the hub asks.
        docker("pull", self.pushed_user.digest_ref, env=login)
        env = self.environment()
        # Host networking, so the hub reaches the provider on 127.0.0.1 and is reached there.
        command = ["run", "--detach", "--name", self.name, "--network", "host"]
        command += ["--init"] if self.init else []
        for source, path in self.mounts.items():
            # An EFS access point starts empty: the image's files at the path are not copied in.
            volume = f"type=volume,source={self.volumes[source]},target={path},volume-nocopy"
            command += ["--mount", volume]
        # The engine the users' servers run on, as the hub's task reaches ECS.
        command += ["--volume", f"{DOCKER_SOCKET}:{DOCKER_SOCKET}"]
        for name in env:
            # Values go through docker's environment, so no secret is on a command line.
            command += ["--env", name]
        entry_point = self.container.get("entryPoint", [])
        command += ["--entrypoint", entry_point[0]] if entry_point else []
        arguments = [*entry_point[1:], *self.container.get("command", [])]
        # Logs stay with docker (`docker logs`): the task's awslogs driver needs CloudWatch.
        docker(*command, self.image, *arguments, env={**os.environ, **env})

    def check_running(self) -> None:
        """Raise, with its logs, if the container has stopped (a hub that cannot start exits)."""
        running = docker("inspect", "--format", "{{.State.Running}}", self.name).strip()
        if running != "true":
            raise RuntimeError(f"the hub container {self.name} exited:\n{self.logs()}")

    def logs(self) -> str:
        done = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True)
        return done.stdout + done.stderr

    def run(self, *command: str, user: str = "root") -> subprocess.CompletedProcess:
        """Run a command in the container (docker exec); the caller checks the result."""
        return subprocess.run(
            ["docker", "exec", "--user", user, self.name, *command],
            capture_output=True,
            text=True,
            timeout=60,
        )

    def stop(self) -> None:
        """Stop the hub's container; its users' servers run on, as tasks outlive the hub's."""
        subprocess.run(["docker", "rm", "--force", self.name], capture_output=True)

    def servers(self, username: str | None = None) -> list[str]:
        """The ids of this hub's running server containers (of one user, if named)."""
        labels = [f"{HUB_LABEL}={self.hub_name}"]
        labels += [f"serverless-hub:user={username}"] if username else []
        filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
        return docker("ps", "--quiet", "--no-trunc", *filters).split()

    def remove(self) -> None:
        """The hub's container, its servers, their network and the volumes: all gone."""
        self.stop()
        filters = ["--filter", f"label={HUB_LABEL}={self.hub_name}"]
        ids = docker("ps", "--all", "--quiet", *filters).split()
        if ids:
            subprocess.run(["docker", "rm", "--force", *ids], capture_output=True)
        subprocess.run(["docker", "network", "rm", f"{self.hub_name}-servers"], capture_output=True)
        volumes = self.volumes.values()
        subprocess.run(["docker", "volume", "rm", "--force", *volumes], capture_output=True)


def _pinned(declared_image: str, pushed: Pushed) -> str:
    """The pushed image by digest, once the task is seen to pin the pushed repository by digest."""
    repository, _, digest = declared_image.partition("@")
    pushed_repository = pushed.digest_ref.partition("@")[0]
    if repository != pushed_repository or not digest.startswith("sha256:"):
        raise ValueError(f"the task runs {declared_image}, not {pushed_repository}@sha256:...")
    # The mocks make the declared digest up; the repository is the declared one, the digest real.
    return pushed.digest_ref


def _free(port: int) -> bool:
    """Whether nothing listens on this port, on any address (connections closing do not count)."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("", port))
        except OSError:
            return False
        return True
