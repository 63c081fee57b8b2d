"""Run the real hub from hub_image/jupyterhub_config.py against a real OpenID Connect provider.

Both listen on loopback ports. The hub gets only the environment given here, so nothing from
the machine running the tests leaks into its configuration. Logins stop following redirects
after the OAuth callback, so no user server (and no system account) is ever started.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from traitlets.config import PyFileConfigLoader

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "hub_image" / "jupyterhub_config.py"
JUPYTERHUB = Path(sys.executable).parent / "jupyterhub"
# configurable-http-proxy, installed with:
#   npm install --prefix .venv/chp configurable-http-proxy@5.3.0
PROXY_BIN = REPO / ".venv" / "chp" / "node_modules" / ".bin"
START_TIMEOUT = 60
STOP_TIMEOUT = 30
REQUEST_TIMEOUT = 10


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout: float, what: str):
    """Poll `check` until it returns something truthy; fail naming `what` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.1)


@dataclass
class Provider:
    url: str

    def add_user(self, sub: str, **claims) -> str:
        """Give the provider a user with these claims (userinfo adds `sub`)."""
        answer = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=REQUEST_TIMEOUT)
        answer.raise_for_status()
        return sub


@pytest.fixture(scope="session")
def provider(tmp_path_factory):
    """oidc-provider-mock on loopback: any client id and secret, users and claims set per test."""
    port = free_port()
    log = tmp_path_factory.mktemp("provider") / "provider.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"

    def answers():
        assert process.poll() is None, f"provider exited:\n{log.read_text()}"
        try:
            return requests.get(f"{url}/.well-known/openid-configuration", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(answers, START_TIMEOUT, f"the OIDC provider at {url}")
        yield Provider(url)
    finally:
        process.terminate()
        process.wait(timeout=STOP_TIMEOUT)


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
        "ADMIN_USERS": "admin1",
        "ALLOWED_USERS": "alice",
        "JUPYTERHUB_DATA_DIR": str(data_dir),
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
    "OAUTH_LOGIN_USERNAME_KEY",
    "OAUTH_SCOPE",
    "OAUTH_LOGIN_SERVICE_NAME",
    "COGNITO_DOMAIN",
    "ADMIN_USERS",
    "ALLOWED_USERS",
    "JUPYTERHUB_DATA_DIR",
    "JUPYTERHUB_DB_URL",
    "JUPYTERHUB_CULL_IDLE_TIMEOUT",
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


def hub_command(port: int) -> list[str]:
    """jupyterhub with our config; only ports come from the command line, to run side by side."""
    return [
        str(JUPYTERHUB),
        "--config",
        str(CONFIG),
        f"--JupyterHub.bind_url=http://127.0.0.1:{port}",
        f"--JupyterHub.hub_bind_url=http://127.0.0.1:{free_port()}",
        f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
    ]


def start_hub(provider: Provider, workdir: Path, port: int | None = None, **settings) -> Hub:
    """Start the hub (working directory and data in `workdir`) and wait until it is healthy."""
    assert (PROXY_BIN / "configurable-http-proxy").exists(), (
        "configurable-http-proxy is missing: "
        "npm install --prefix .venv/chp configurable-http-proxy@5.3.0"
    )
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    log = workdir / f"hub-{port}-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            hub_command(port),
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


def login(hub: Hub, sub: str) -> tuple[requests.Session, requests.Response]:
    """Log in as provider user `sub`; return the session and the hub's answer to the callback.

    Stops there: after the callback the hub redirects to /hub/spawn, which would start a server.
    """
    session = requests.Session()
    to_provider = session.get(
        f"{hub.url}/hub/oauth_login", allow_redirects=False, timeout=REQUEST_TIMEOUT
    )
    assert to_provider.status_code == 302, to_provider.text
    # The provider's consent form: choosing a subject answers with a redirect to the hub.
    back = session.post(
        to_provider.headers["location"],
        data={"sub": sub},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    assert back.status_code == 302, back.text
    assert back.headers["location"].startswith(f"{hub.url}/hub/oauth_callback?")
    callback = session.get(back.headers["location"], allow_redirects=False, timeout=REQUEST_TIMEOUT)
    return session, callback


def get(session: requests.Session, hub: Hub, path: str) -> requests.Response:
    return session.get(f"{hub.url}{path}", allow_redirects=False, timeout=REQUEST_TIMEOUT)
