"""The hub image running as a container next to the test identity provider on this machine.

Host networking lets the hub reach the provider on 127.0.0.1 and be reached there; the hub's
three ports are chosen free, so it never clashes with anything else on the machine. With a host
name (`localhost`), the hub is reached by that name, as a hub with user subdomains must be
(browsers take `<user>.localhost` to loopback too).

Users' servers are containers of their own on this machine's Docker engine (the hub reaches it
through its socket), from the user image, each with its user's home from `homes`, a directory
here that the hub keeps at /home: the counterpart of ECS tasks and their EFS access points. They
outlive the hub container, as tasks outlive the hub's; `remove_servers()` ends them.
"""

import json
import os
import secrets
import socket
import subprocess
import time
from pathlib import Path

import requests

from local.docker_cli import docker
from local.polling import wait_for

CONFIG_FILE = "/srv/hub/hub_image/jupyterhub_config.py"
DATA_DIR = "/srv/jupyterhub/data"
DOCKER_SOCKET = "/var/run/docker.sock"
# The label every server container of a hub carries (hub_image/servers.py's HUB_TAG).
HUB_LABEL = "serverless-hub:hub"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class HubContainer:
    """One hub container at a time; start() again after stop() is a new container, same volumes."""

    def __init__(
        self,
        image: str,
        user_image: str,
        provider_url: str,
        homes: Path,
        data_volume: str,
        port: int = 0,
        env: dict[str, str] | None = None,
        host: str = "127.0.0.1",
        sizes: list[dict] | None = None,
    ):
        self.image, self.user_image, self.provider_url = image, user_image, provider_url
        self.homes, self.data_volume = Path(homes), data_volume
        self.sizes = sizes
        # Extra variables for the hub, e.g. ALLOWED_USERS overriding the image's list.
        self.extra_env = env or {}
        self.port = port or free_port()
        self.url = f"http://{host}:{self.port}"
        # Bound on loopback whatever the name: it is reached on this machine only.
        self.bind_url = f"http://127.0.0.1:{self.port}"
        # A fresh client secret each run: it reaches the hub at run time only, never the image.
        self.client_secret = secrets.token_urlsafe(24)
        # Encrypts users' refresh tokens; kept for this object's restarts, so they stay readable.
        self.crypt_key = secrets.token_hex(32)
        self.client_id = "serverless-hub-local"
        # The hub's name, its servers' label: the same for each start, so it finds them again.
        self.hub_name = f"serverless-hub-{secrets.token_hex(4)}"
        self.name = None

    def start(self, ready_seconds: float = 120) -> float:
        """Start the container and wait until /hub/health answers; return the seconds it took."""
        self.name = f"{self.hub_name}-hub-{secrets.token_hex(2)}"
        self.homes.mkdir(parents=True, exist_ok=True)
        env = {
            # Users' servers: containers on this engine, their homes here, from the user image.
            "SERVERS_ENGINE": "docker",
            "SERVERS_HUB": self.hub_name,
            "SERVERS_HOMES_ON_HOST": str(self.homes.resolve()),
            "USER_IMAGE": self.user_image,
            **({"SERVER_SIZES": json.dumps(self.sizes)} if self.sizes else {}),
            "OAUTH_CLIENT_ID": self.client_id,
            "OAUTH_CLIENT_SECRET": self.client_secret,
            "JUPYTERHUB_CRYPT_KEY": self.crypt_key,
            "OAUTH_CALLBACK_URL": f"{self.url}/hub/oauth_callback",
            "OAUTH_AUTHORIZE_URL": f"{self.provider_url}/oauth2/authorize",
            "OAUTH_TOKEN_URL": f"{self.provider_url}/oauth2/token",
            "OAUTH_USERDATA_URL": f"{self.provider_url}/userinfo",
            "OAUTH_LOGOUT_URL": f"{self.provider_url}/logout",
            **self.extra_env,
        }
        command = ["run", "--detach", "--name", self.name, "--network", "host"]
        command += ["--volume", f"{self.homes.resolve()}:/home"]
        command += ["--volume", f"{self.data_volume}:{DATA_DIR}"]
        # The engine its users' servers run on, as the hub's task reaches ECS.
        command += ["--volume", f"{DOCKER_SOCKET}:{DOCKER_SOCKET}"]
        for name in env:
            # Values go through docker's environment, so the secret is not on a command line.
            command += ["--env", name]
        ports = [
            f"--JupyterHub.bind_url={self.bind_url}",
            # Servers call the hub's API at their network's gateway: it listens there too.
            f"--JupyterHub.hub_bind_url=http://0.0.0.0:{free_port()}",
            f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
        ]
        # A hub left running on this port would answer the health check in this one's place.
        if self._answers():
            raise RuntimeError(f"something already answers on {self.url}; stop it first")
        started = time.monotonic()
        docker(
            *command,
            self.image,
            "jupyterhub",
            "--config",
            CONFIG_FILE,
            *ports,
            env={**os.environ, **env},
        )
        wait_for(self.healthy, ready_seconds, f"{self.name} on {self.url}/hub/health", 0.05)
        return time.monotonic() - started

    def healthy(self) -> bool:
        running = docker("inspect", "--format", "{{.State.Running}}", self.name).strip()
        if running != "true":
            raise RuntimeError(f"the hub container {self.name} exited:\n{self.logs()}")
        return self._answers()

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.bind_url}/hub/health", timeout=2).ok
        except requests.ConnectionError:
            return False

    def logs(self) -> str:
        done = subprocess.run(["docker", "logs", self.name], capture_output=True, text=True)
        return done.stdout + done.stderr

    def stop(self) -> None:
        """Stop the hub container; its users' servers run on, as tasks outlive the hub."""
        if self.name:
            subprocess.run(["docker", "rm", "--force", self.name], capture_output=True)
        self.name = None

    def servers(self, username: str | None = None) -> list[str]:
        """The ids of this hub's running server containers (of one user, if named)."""
        labels = [f"{HUB_LABEL}={self.hub_name}"]
        if username:
            labels.append(f"serverless-hub:user={username}")
        filters = [arg for label in labels for arg in ("--filter", f"label={label}")]
        return docker("ps", "--quiet", "--no-trunc", *filters).split()

    def remove_servers(self) -> None:
        """End every server container of this hub, and their network."""
        filters = ["--filter", f"label={HUB_LABEL}={self.hub_name}"]
        ids = docker("ps", "--all", "--quiet", *filters).split()
        if ids:
            subprocess.run(["docker", "rm", "--force", *ids], capture_output=True)
        subprocess.run(["docker", "network", "rm", f"{self.hub_name}-servers"], capture_output=True)

    def run(self, *command: str, user: str = "root") -> subprocess.CompletedProcess:
        """Run a command inside the container; the caller checks the result."""
        return subprocess.run(
            ["docker", "exec", "--user", user, self.name, *command],
            capture_output=True,
            text=True,
            timeout=60,
        )
