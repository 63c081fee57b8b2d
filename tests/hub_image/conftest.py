"""Run the real hub from hub_image/jupyterhub_config.py against a real OpenID Connect provider.

Both listen on loopback ports, as does the S3 stand-in (moto) for hubs whose lists are in S3.
The hub gets only the environment given here, so nothing from the machine running the tests leaks
into its configuration. Logins stop following redirects after the OAuth callback, so no user
server (and no system account) is ever started.
"""

import os
import secrets
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from traitlets.config import PyFileConfigLoader

from local.identity_provider import Provider
from tests.support import REQUEST_TIMEOUT, SPAWN_ANSWER_SECONDS, free_port, wait_for

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "hub_image" / "jupyterhub_config.py"
JUPYTERHUB = Path(sys.executable).parent / "jupyterhub"
# configurable-http-proxy, installed with:
#   `make test` installs it (see CHP_VERSION in the Makefile)
PROXY_BIN = REPO / ".venv" / "chp" / "node_modules" / ".bin"
START_TIMEOUT = 60
CRYPT_KEY = secrets.token_hex(32)
STOP_TIMEOUT = 30


@dataclass
class Hub:
    url: str
    data_dir: Path
    log: Path
    process: subprocess.Popen

    def stop(self) -> float:
        """Stop the hub as Docker would (SIGTERM); return how long it took."""
        started = time.monotonic()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise AssertionError(f"hub did not stop within {STOP_TIMEOUT}s") from None
        return time.monotonic() - started

    def log_text(self) -> str:
        return self.log.read_text()


# Servers that run as the hub's own user, so that a test makes no system accounts; Jupyter
# Server refuses root (as the tests may run) without --allow-root. Processes of the hub's, they
# end with it (a task outlives the hub; these would outlive the test).
LOCAL_SERVERS = [
    "--JupyterHub.spawner_class=jupyterhub.spawner.SimpleLocalProcessSpawner",
    '--Spawner.args=["--allow-root"]',
    "--JupyterHub.cleanup_servers=True",
]


def running(pid: int) -> bool:
    """Whether a process runs (a zombie, finished but not yet reaped, does not)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def hub_environment(provider: Provider, hub_url: str, data_dir: Path, **settings) -> dict:
    """A complete, valid hub environment; a setting of None leaves that variable out."""
    env = {
        "PATH": f"{PROXY_BIN}:{JUPYTERHUB.parent}:{os.environ['PATH']}",
        "PYTHONPATH": str(REPO),
        "HOME": str(data_dir.parent),
        "OAUTH_CLIENT_ID": "hub-tests",
        "OAUTH_CLIENT_SECRET": "not-a-secret",
        "OAUTH_CALLBACK_URL": f"{hub_url}/hub/oauth_callback",
        "OAUTH_AUTHORIZE_URL": f"{provider.url}/oauth2/authorize",
        "OAUTH_TOKEN_URL": f"{provider.url}/oauth2/token",
        "OAUTH_USERDATA_URL": f"{provider.url}/userinfo",
        "OAUTH_LOGOUT_URL": f"{provider.url}/logout",
        "ADMIN_USERS": "admin1",
        "ALLOWED_USERS": "alice",
        "JUPYTERHUB_DATA_DIR": str(data_dir),
        # As on AWS: auth state (refresh tokens) kept, encrypted with this key.
        "JUPYTERHUB_CRYPT_KEY": CRYPT_KEY,
        # Users' servers as containers here; these hubs start none (LOCAL_SERVERS), so the engine
        # is never asked where servers reach the hub.
        "SERVERS_ENGINE": "docker",
        "SERVERS_HUB": "hub-tests",
        "SERVERS_HOMES_ON_HOST": str(data_dir.parent / "home"),
        "USER_IMAGE": "serverless-hub-user:tests",
        "HUB_CONNECT_IP": "127.0.0.1",
    }
    env.update(settings)
    return {name: value for name, value in env.items() if value is not None}


# Every variable the config reads; in-process loads start from none of them set.
CONFIG_VARIABLES = [
    "OAUTH_CLIENT_ID",
    "OAUTH_CLIENT_SECRET",
    "OAUTH_CALLBACK_URL",
    "OAUTH_AUTHORIZE_URL",
    "OAUTH_TOKEN_URL",
    "OAUTH_USERDATA_URL",
    "OAUTH_LOGOUT_URL",
    "PUBLIC_URL",
    "USER_SUBDOMAINS",
    "OAUTH_LOGIN_USERNAME_KEY",
    "OAUTH_SCOPE",
    "OAUTH_LOGIN_SERVICE_NAME",
    "COGNITO_DOMAIN",
    "ADMIN_USERS",
    "ALLOWED_USERS",
    "ADMIN_GROUPS",
    "ALLOWED_GROUPS",
    "OAUTH_GROUPS_CLAIM",
    "JUPYTERHUB_DATA_DIR",
    "JUPYTERHUB_DB_URL",
    "JUPYTERHUB_CULL_IDLE_TIMEOUT",
    "JUPYTERHUB_CRYPT_KEY",
    "JUPYTERHUB_AUTH_REFRESH_AGE",
    "USER_LISTS_URL",
    "USER_LISTS_REFRESH_SECONDS",
    "SERVERS_ENGINE",
    "SERVERS_HUB",
    "SERVERS_HOMES_ON_HOST",
    "SERVERS_NETWORK",
    "USER_IMAGE",
    "SERVER_SIZES",
    "USER_SERVERS_URL",
    "HUB_IP",
    "HUB_CONNECT_IP",
    "HOMES",
    "ORPHANS_INTERVAL_SECONDS",
    # boto3 reads these for the config, when the lists are in S3.
    "AWS_ENDPOINT_URL_S3",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_DEFAULT_REGION",
]


@pytest.fixture
def load_config(monkeypatch, tmp_path):
    """Read the config file in this process, as JupyterHub does, from a valid environment."""

    def load(**settings):
        provider = Provider("https://idp.example")
        env = hub_environment(provider, "https://hub.example", tmp_path / "data", **settings)
        for name in CONFIG_VARIABLES:
            monkeypatch.delenv(name, raising=False)
        for name in set(env) & set(CONFIG_VARIABLES):
            monkeypatch.setenv(name, env[name])
        return PyFileConfigLoader(CONFIG.name, path=str(CONFIG.parent)).load_config()

    return load


def hub_command(port: int, api_host: str = "127.0.0.1") -> list[str]:
    """jupyterhub with our config; only ports come from the command line, to run side by side.

    The hub's API listens on `api_host`: every address (0.0.0.0) for a hub whose users' servers,
    in containers, call it."""
    return [
        str(JUPYTERHUB),
        "--config",
        str(CONFIG),
        f"--JupyterHub.bind_url=http://127.0.0.1:{port}",
        f"--JupyterHub.hub_bind_url=http://{api_host}:{free_port()}",
        f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
    ]


def start_hub(
    provider: Provider,
    workdir: Path,
    port: int | None = None,
    options=(),
    host: str = "127.0.0.1",
    api_host: str = "127.0.0.1",
    **settings,
) -> Hub:
    """Start the hub (working directory and data in `workdir`) and wait until it is healthy.

    `options` are added to its command line (e.g. another spawner, for a test that runs servers).
    The hub listens on 127.0.0.1; `host` is the name it is reached by (`localhost`, for a hub
    with user subdomains).
    """
    assert (PROXY_BIN / "configurable-http-proxy").exists(), (
        "configurable-http-proxy is missing: run the tests with `make test`, which installs it"
    )
    port = port or free_port()
    url = f"http://{host}:{port}"
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    log = workdir / f"hub-{port}-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*hub_command(port, api_host), *options],
            env=hub_environment(provider, url, data_dir, **settings),
            cwd=workdir,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    hub = Hub(url, data_dir, log, process)

    def healthy():
        assert process.poll() is None, f"hub exited with {process.returncode}:\n{hub.log_text()}"
        try:
            return requests.get(f"{url}/hub/health", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(healthy, START_TIMEOUT, f"the hub at {url}/hub/health")
    except BaseException:
        hub.stop()
        raise
    return hub


def get(session: requests.Session, hub: Hub, path: str, **kwargs) -> requests.Response:
    return session.get(f"{hub.url}{path}", allow_redirects=False, timeout=REQUEST_TIMEOUT, **kwargs)


def api(session: requests.Session, hub: Hub, method: str, path: str) -> requests.Response:
    """Call the hub's REST API as the browser's pages do: the session cookie and its XSRF token."""
    get(session, hub, "/hub/home")
    xsrf = next(cookie.value for cookie in session.cookies if cookie.name == "_xsrf")
    return session.request(
        method,
        f"{hub.url}/hub/api{path}",
        headers={"X-XSRFToken": xsrf},
        allow_redirects=False,
        timeout=SPAWN_ANSWER_SECONDS,
    )


def stopped_at_start(provider, tmp_path_factory, settings_by_case: dict) -> dict[str, tuple]:
    """Start one real hub per case, all at once; each case's exit code and stderr once it stops."""
    processes = {}
    for case, settings in settings_by_case.items():
        workdir = tmp_path_factory.mktemp("bad-start")
        url = f"http://127.0.0.1:{free_port()}"
        processes[case] = subprocess.Popen(
            hub_command(free_port()),
            env=hub_environment(provider, url, workdir / "data", **settings),
            cwd=workdir,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    results = {}
    for case, process in processes.items():
        try:
            _, stderr = process.communicate(timeout=START_TIMEOUT * 2)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            stderr = f"still running after {START_TIMEOUT * 2}s"
        results[case] = (process.returncode, stderr)
    return results
