"""Each user's server in a container of its own, from a real hub (hub_image/jupyterhub_config.py
on this machine) through the local Docker engine: the counterpart of ECS tasks on AWS.

Real JupyterLab servers from the user image: each runs as its user's uid, at its size, reached
through the hub's proxy; it outlives a hub restart with its kernels; stopping it, or the hub
finding a container it has no record of, ends every process in it; kernels talk over sockets in
a private directory, not TCP.
"""

import json
import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import docker
import pytest
import requests

from hub_image.servers import HUB_TAG, USER_TAG
from hub_image.spawner import RUNTIME_DIR
from tests.hub_image.conftest import api, get, start_hub
from tests.support import (
    REQUEST_TIMEOUT,
    SPAWN_ANSWER_SECONDS,
    detached_process,
    login,
    server_processes,
    wait_for,
)

pytestmark = pytest.mark.e2e

SIZES = [
    {"name": "standard", "cpu": 512, "memory": 1024},
    {"name": "large", "cpu": 1024, "memory": 2048, "groups": ["bioinformatics"]},
]
START_SECONDS = 120
# Docker's own DNS resolver in a container on a user network (ECS has none): 127.0.0.11.
DOCKER_DNS = "0B00007F"
# 127.0.0.1 and ::1 as /proc/net/tcp and tcp6 write them.
LOOPBACK = {"0100007F", "00000000000000000000000001000000"}
CHANNELS = ("shell", "iopub", "stdin", "control", "hb")


@pytest.fixture(scope="module")
def hub(provider, user_image, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("servers-hub")
    (workdir / "home").mkdir()
    name = f"hub-tests-{secrets.token_hex(3)}"
    provider.add_user("sub-alice-servers", username="alice")
    provider.add_user("sub-bea-servers", username="bea", **{"cognito:groups": ["bioinformatics"]})
    provider.add_user("sub-admin-servers", username="admin1")
    hub = start_hub(
        provider,
        workdir,
        # Servers reach the hub's API at the Docker network's gateway: it listens there too.
        api_host="0.0.0.0",  # noqa: S104
        ALLOWED_USERS="alice,bea",
        ALLOWED_GROUPS="bioinformatics",
        SERVERS_HUB=name,
        HOMES=str(workdir / "home"),
        USER_IMAGE=user_image,
        SERVER_SIZES=json.dumps(SIZES),
        HUB_CONNECT_IP=None,
        ORPHANS_INTERVAL_SECONDS="2",
    )
    hub.name = name
    yield hub
    hub.stop()
    client = docker.from_env()
    for container in client.containers.list(all=True, filters={"label": f"{HUB_TAG}={name}"}):
        container.remove(force=True)
    client.networks.get(f"{name}-servers").remove()


def containers(hub, user: str) -> list:
    labels = [f"{HUB_TAG}={hub.name}", f"{USER_TAG}={user}"]
    return docker.from_env().containers.list(filters={"label": labels})


def server_of(session, hub, user: str) -> dict:
    return api(session, hub, "GET", f"/users/{user}").json()["servers"].get("", {})


def started(hub, user: str, sub: str, size: str | None = None) -> requests.Session:
    """Log `user` in and start their server (at `size`), until the hub says it is ready."""
    session, callback = login(hub, sub)
    assert callback.status_code == 302, callback.text
    if server_of(session, hub, user).get("ready"):
        return session  # running already, from an earlier test on this hub
    if size:
        get(session, hub, "/hub/spawn")
        spawned = session.post(
            f"{hub.url}/hub/spawn",
            data={"size": size, "_xsrf": xsrf(session)},
            allow_redirects=False,
            timeout=SPAWN_ANSWER_SECONDS,
        )
    else:
        get(session, hub, "/hub/home")
        spawned = session.post(
            f"{hub.url}/hub/api/users/{user}/server",
            headers={"X-XSRFToken": xsrf(session)},
            # The hub answers once the server runs, or after 10 s (then: 202, still starting).
            timeout=SPAWN_ANSWER_SECONDS,
        )
    assert spawned.status_code in (201, 202, 302), spawned.text
    wait_for(
        lambda: server_of(session, hub, user).get("ready"),
        START_SECONDS,
        f"{user}'s server ready (hub log: {hub.log})",
    )
    return session


def xsrf(session, path: str = "/hub/") -> str:
    """The XSRF token of the hub (its cookie's path /hub/) or of a user's server (/user/<name>/)."""
    return next(c.value for c in session.cookies if c.name == "_xsrf" and c.path == path)


def through_the_hub(session, hub, user: str, path: str) -> requests.Response:
    """A request to the user's own server, through the hub's proxy, as JupyterLab makes it:
    after the page, whose OAuth flow with the hub gives the server's own cookie."""
    page = session.get(f"{hub.url}/user/{user}/lab", timeout=REQUEST_TIMEOUT)
    assert page.ok and page.url == f"{hub.url}/user/{user}/lab", (page.status_code, page.url)
    return session.get(f"{hub.url}/user/{user}{path}", timeout=REQUEST_TIMEOUT)


def test_a_users_server_is_a_container_of_its_own_at_its_size(hub):
    alice = started(hub, "alice", "sub-alice-servers")
    [container] = containers(hub, "alice")
    assert container.attrs["HostConfig"]["Memory"] == 1024 * 1024 * 1024
    uid = int(container.attrs["Config"]["User"].split(":")[0])
    home = hub.data_dir.parent / "home" / "alice"
    assert home.stat().st_uid == uid >= 1000
    status = through_the_hub(alice, hub, "alice", "/api/status")
    assert status.json().get("kernels") == 0, (status.url, status.text[:300])
    # One size is open to alice: the spawn page offers no menu.
    assert 'name="size"' not in get(alice, hub, "/hub/spawn-pending/alice").text


def test_the_spawn_page_offers_the_sizes_a_user_may_pick_and_the_pick_sets_the_memory(hub):
    bea, _ = login(hub, "sub-bea-servers")
    form = get(bea, hub, "/hub/spawn").text
    assert "standard: 0.5 vCPU, 1 GB" in form and "large: 1 vCPU, 2 GB" in form
    bea = started(hub, "bea", "sub-bea-servers", size="large")
    [container] = containers(hub, "bea")
    assert container.attrs["HostConfig"]["Memory"] == 2048 * 1024 * 1024


def kernel_in(session, hub, user: str) -> str:
    through_the_hub(session, hub, user, "/api/status")
    answer = session.post(
        f"{hub.url}/user/{user}/api/kernels",
        headers={"X-XSRFToken": xsrf(session, f"/user/{user}/")},
        json={"name": "python3"},
        timeout=REQUEST_TIMEOUT,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_kernels_talk_over_private_sockets_not_tcp(hub):
    alice = started(hub, "alice", "sub-alice-servers")
    kernel = kernel_in(alice, hub, "alice")
    [container] = containers(hub, "alice")
    uid = container.attrs["Config"]["User"].split(":")[0]
    connection = f"{RUNTIME_DIR}/kernel-{kernel}.json"
    info = wait_for(
        lambda: (
            container.exec_run(["cat", connection], user=uid).output.decode().startswith("{")
            and json.loads(container.exec_run(["cat", connection], user=uid).output)
        ),
        60,
        f"kernel {kernel}'s connection file",
    )
    assert info["transport"] == "ipc"
    # The kernel's channels are sockets in the runtime directory, no TCP port. The one other TCP
    # listener is ipykernel's own pipe for forked children's output: it takes messages that carry
    # its random key only (PULL), on this container's own loopback, where no one else runs.
    listening = container.exec_run(["cat", "/proc/net/tcp", "/proc/net/tcp6"]).output.decode()
    bound = {
        (address, int(port, 16))
        for line in listening.splitlines()
        if line.split()[3:4] == ["0A"]
        for address, port in [line.split()[1].rsplit(":", 1)]
        if address != DOCKER_DNS
    }
    assert {port for address, port in bound if address not in LOOPBACK} == {8888}, bound
    assert len([port for address, port in bound if address in LOOPBACK]) <= 1, bound
    assert all(not isinstance(info[f"{c}_port"], int) or info[f"{c}_port"] < 16 for c in CHANNELS)
    # Another uid, in the same container, cannot reach the kernel's sockets.
    runtime = container.exec_run(["stat", "-c", "%a %u", RUNTIME_DIR]).output.decode()
    mode, owner = runtime.split()
    # Only its user may enter it (jupyter adds the sticky bit, 1700).
    assert (int(mode, 8) & 0o777, owner) == (0o700, uid)
    listen = f"{info['ip']}-{info['iopub_port']}"
    attempt = container.exec_run(
        ["python3", "-c", f"import socket; socket.socket(socket.AF_UNIX).connect({listen!r})"],
        user="4242",
    )
    assert attempt.exit_code != 0 and b"Permission denied" in attempt.output, attempt.output


def test_a_hub_restart_ends_no_server_and_no_kernel(hub, provider, tmp_path_factory):
    alice = started(hub, "alice", "sub-alice-servers")
    kernel = kernel_in(alice, hub, "alice")
    [before] = containers(hub, "alice")
    hub.stop()
    # The same hub again: same data directory, a new process.
    again = start_hub(
        provider,
        hub.data_dir.parent,
        port=int(hub.url.rsplit(":", 1)[1]),
        api_host="0.0.0.0",  # noqa: S104
        ALLOWED_USERS="alice,bea",
        ALLOWED_GROUPS="bioinformatics",
        SERVERS_HUB=hub.name,
        HOMES=str(hub.data_dir.parent / "home"),
        USER_IMAGE=before.attrs["Config"]["Image"],
        SERVER_SIZES=json.dumps(SIZES),
        HUB_CONNECT_IP=None,
        ORPHANS_INTERVAL_SECONDS="2",
    )
    hub.process, hub.log = again.process, again.log
    [after] = containers(hub, "alice")
    assert after.id == before.id
    kernels = wait_for(
        lambda: (
            (answer := through_the_hub(alice, hub, "alice", "/api/kernels")).ok and answer.json()
        ),
        60,
        "alice's server answering through the restarted hub",
    )
    assert kernel in [k["id"] for k in kernels]


def test_stopping_a_server_ends_every_process_of_its_user(hub):
    alice = started(hub, "alice", "sub-alice-servers")
    [container] = containers(hub, "alice")
    uid = container.attrs["Config"]["User"].split(":")[0]
    detached_process(container, uid)
    stopped = api(alice, hub, "DELETE", "/users/alice/server")
    assert stopped.status_code in (202, 204), stopped.text
    wait_for(lambda: not containers(hub, "alice"), 60, "alice's container gone")
    left = container.id, int(uid)
    wait_for(lambda: server_processes(*left) == [], 30, f"no process of uid {uid} left")


def test_a_container_the_hub_has_no_record_of_is_stopped(hub):
    from hub_image.servers import Server
    from hub_image.servers_on_docker import DockerServers, DockerSettings

    settings = DockerSettings(hub.name, f"{hub.name}-servers", str(hub.data_dir.parent / "home"))
    home = hub.data_dir.parent / "home" / "ghost"
    home.mkdir(exist_ok=True)
    environment = {"USER": "ghost", "HOME": "/home/ghost", "JUPYTER_RUNTIME_DIR": "/tmp/r"}  # noqa: S108
    image = docker.from_env().images.list(filters={"reference": "serverless-hub-user:*"})[0]
    ghost = DockerServers(settings).start(
        Server(
            "ghost", "ghost", "ghost", 1999, image.tags[0], 256, 512, environment, ["sleep", "3600"]
        )
    )
    started_at = time.monotonic()
    wait_for(lambda: not containers(hub, "ghost"), 60, "the ghost container stopped by the hub")
    print(f"orphan stopped after {time.monotonic() - started_at:.1f} s")
    assert DockerServers(settings).describe(ghost).state == "stopped"


def test_a_size_the_user_may_not_pick_is_refused_with_a_message(hub):
    alice, _ = login(hub, "sub-alice-servers")
    if server_of(alice, hub, "alice"):
        api(alice, hub, "DELETE", "/users/alice/server")
        wait_for(lambda: not server_of(alice, hub, "alice"), 60, "alice's server stopped")
    # Alice may pick one size: the spawn page offers none, but she posts another by hand.
    get(alice, hub, "/hub/home")
    refused = alice.post(
        f"{hub.url}/hub/spawn",
        data={"size": "large", "_xsrf": xsrf(alice)},
        allow_redirects=True,
        timeout=SPAWN_ANSWER_SECONDS,
    )
    said = (refused.status_code, refused.url, [r.status_code for r in refused.history], hub.log)
    assert "the size &#39;large&#39; is not one alice may pick" in refused.text, said
    assert not containers(hub, "alice")


def test_the_spawn_page_follows_the_servers_states(hub):
    session, _ = login(hub, "sub-bea-servers")
    if server_of(session, hub, "bea"):
        api(session, hub, "DELETE", "/users/bea/server")
        wait_for(lambda: not server_of(session, hub, "bea"), 60, "bea's server stopped")
    get(session, hub, "/hub/home")

    def spawn():
        return session.post(
            f"{hub.url}/hub/api/users/bea/server",
            headers={"X-XSRFToken": xsrf(session)},
            json={"size": "standard"},
            timeout=SPAWN_ANSWER_SECONDS,
        )

    with ThreadPoolExecutor(1) as pool:
        spawning = pool.submit(spawn)
        # As the spawn page does: its event stream, from the moment the server is asked for.
        wait_for(lambda: server_of(session, hub, "bea").get("pending"), 30, "bea's spawn pending")
        events = session.get(
            f"{hub.url}/hub/api/users/bea/server/progress", stream=True, timeout=START_SECONDS
        )
        messages = [
            json.loads(line.removeprefix(b"data:"))["message"]
            for line in events.iter_lines()
            if line.startswith(b"data:")
        ]
        assert spawning.result().status_code in (201, 202)
    assert any(message.startswith("Your server is running") for message in messages), messages
    assert messages[-1].startswith("Server ready at"), messages
