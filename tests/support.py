"""Helpers for every test folder: free ports, waiting with a deadline, logging in."""

import os
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import requests
from requests.adapters import HTTPAdapter

# One place for each; the tests import them from here.
from local.hub_container import free_port  # noqa: F401
from local.polling import wait_for  # noqa: F401

REQUEST_TIMEOUT = 10
# A spawn's POST answers only after JupyterHub's slow_spawn_timeout (10 s) of waiting for it.
SPAWN_ANSWER_SECONDS = 60


def cannot_run(reason: str) -> None:
    """A test that cannot run here: in CI (CI=true) that fails the run; elsewhere it is skipped."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"cannot run in CI: {reason}")
    pytest.skip(reason)


class LoopbackSubdomains(HTTPAdapter):
    """Reach `<name>.localhost` on 127.0.0.1, as browsers do (RFC 6761); the URL, the Host header
    and the cookies keep the name. This machine's resolver knows only `localhost` itself."""

    def send(self, request, **kwargs):
        parts = urlsplit(request.url)
        if not (parts.hostname or "").endswith(".localhost"):
            return super().send(request, **kwargs)
        direct = request.copy()
        direct.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port or 80}"))
        direct.headers["Host"] = parts.netloc
        response = super().send(direct, **kwargs)
        response.url, response.request = request.url, request
        return response


def browser() -> requests.Session:
    """A session that reaches users' subdomains of localhost, as a browser would."""
    session = requests.Session()
    session.mount("http://", LoopbackSubdomains())
    return session


def login(hub, sub: str, session=None) -> tuple[requests.Session, requests.Response]:
    """Log in at `hub.url` as provider user `sub`; return the session and the hub's callback answer.

    Stops there: after the callback the hub redirects to /hub/spawn, which would start a server.
    """
    session = session or browser()
    to_provider = session.get(
        f"{hub.url}/hub/oauth_login", allow_redirects=False, timeout=REQUEST_TIMEOUT
    )
    assert to_provider.status_code == 302, to_provider.text
    # The provider's login form: choosing a subject answers with a redirect to the hub.
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


def detached_process(container, uid: str) -> int:
    """Start, in a server's container as its user, a process that left the server's process group
    (as `nohup ... &` from a terminal does); return its PID on this machine once it runs there."""
    container.exec_run(["setsid", "sleep", "3600"], user=uid, detach=True)

    def host_pid() -> int | None:
        listed = container.top(ps_args="-eo pid,args")
        pids = [int(row[0]) for row in listed["Processes"] if row[1] == "sleep 3600"]
        return pids[0] if pids else None

    pid = wait_for(host_pid, 30, f"the detached sleep in {container.name}")
    # Found by the same look as after the stop, so that look cannot miss it.
    assert pid in server_processes(container.id, int(uid)), f"{pid} not in {container.name}"
    return pid


def server_processes(container_id: str, uid: int) -> list[int]:
    """This machine's processes of `uid` in the server's container (its cgroup names it): other
    hubs' servers may run as the same uid, in containers of their own."""
    found = []
    for process in Path("/proc").iterdir():
        if not process.name.isdigit():
            continue
        try:
            status = (process / "status").read_text()
            cgroup = (process / "cgroup").read_text()
        except (FileNotFoundError, ProcessLookupError):
            continue
        [real_uid] = [line.split()[1] for line in status.splitlines() if line.startswith("Uid:")]
        if int(real_uid) == uid and container_id in cgroup:
            found.append(int(process.name))
    return found
