"""Users' servers as containers on the local Docker engine, the counterpart of ECS tasks here.

Real containers from the user image: each runs as its user's uid with its size's memory as a hard
limit and only its user's home; no server reaches another; stopping one ends every process in it;
a new engine object (a restarted hub) finds the running ones by their labels.
"""

import os
import secrets
import subprocess

import docker
import pytest

from hub_image.servers import RUNNING, SERVER_PORT, STOPPED, Server
from hub_image.servers_on_docker import DockerServers, DockerSettings
from tests.support import detached_process, server_processes, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def engine(user_image, tmp_path):
    """An engine on a network and homes of its own; its containers and network go afterwards."""
    hub = f"hub-test-{secrets.token_hex(3)}"
    homes = tmp_path / "home"
    homes.mkdir()
    settings = DockerSettings(hub=hub, network=f"{hub}-servers", homes=str(homes))
    made = DockerServers(settings)
    made.hub_address()
    yield made
    client = docker.from_env()
    for container in client.containers.list(
        all=True, filters={"label": f"serverless-hub:hub={hub}"}
    ):
        container.remove(force=True)
    client.networks.get(settings.network).remove()


def server(engine, user_image, name: str, uid: int, command: list[str], memory=512) -> Server:
    """A server for `name`, its home made as the hub makes it: theirs, private."""
    home = f"{engine.settings.homes}/{name}"
    os.makedirs(home, exist_ok=True)
    os.chown(home, uid, uid)
    os.chmod(home, 0o700)
    # Paths in the server's own container, whose /tmp only its user has.
    runtime = "/tmp/runtime"  # noqa: S108
    environment = {"USER": name, "HOME": f"/home/{name}", "JUPYTER_RUNTIME_DIR": runtime}
    return Server(name, name, name, uid, user_image, 256, memory, environment, command)


LISTEN = ["python3", "-m", "http.server", str(SERVER_PORT)]


def running(engine, task_id):
    return wait_for(
        lambda: (task := engine.describe(task_id)).state == RUNNING and task.address and task,
        60,
        f"container {task_id[:12]} running with an address",
    )


def test_a_server_runs_as_its_users_uid_with_its_sizes_memory_and_only_its_home(engine, user_image):
    # What the server's own processes see: their name, their home, a /home that lists no one.
    look = "(whoami; ls /home || echo unlisted; stat -c %a /home) > /tmp/seen; exec "
    look += " ".join(LISTEN)
    task_id = engine.start(server(engine, user_image, "jane", 1001, ["sh", "-c", look], memory=768))
    running(engine, task_id)
    container = docker.from_env().containers.get(task_id)
    assert container.attrs["Config"]["User"] == "1001:1001"
    assert container.attrs["HostConfig"]["Memory"] == 768 * 1024 * 1024
    assert container.attrs["HostConfig"]["Init"] is True
    [mount] = container.attrs["Mounts"]
    assert (mount["Source"], mount["Destination"]) == (
        f"{engine.settings.homes}/jane",
        "/home/jane",
    )
    seen = wait_for(
        lambda: container.exec_run(["cat", "/tmp/seen"], user="1001").output.decode().split(),  # noqa: S108
        30,
        "what jane's server saw, in /tmp/seen",
    )
    assert seen == ["jane", "unlisted", "711"]


def test_the_hub_reaches_a_server_and_no_server_reaches_another(engine, user_image):
    jane = running(engine, engine.start(server(engine, user_image, "jane", 1001, LISTEN)))
    ben = running(engine, engine.start(server(engine, user_image, "ben", 1002, LISTEN)))
    # The hub, on this machine, reaches each server at its address.
    fetch = (
        f"import urllib.request; urllib.request.urlopen('http://{{}}:{SERVER_PORT}/', timeout=5)"
    )
    wait_for(
        lambda: subprocess.run(["python3", "-c", fetch.format(ben.address)]).returncode == 0,
        30,
        f"ben's server answering the hub at {ben.address}",
    )
    container = docker.from_env().containers.get(jane.id)
    reach = container.exec_run(["python3", "-c", fetch.format(ben.address)], user="1001")
    assert reach.exit_code != 0, "jane's server reached ben's"
    # ...though it reaches the hub (the network's gateway), as a server reaches the hub's API.
    assert (
        engine.hub_address()
        == container.attrs["NetworkSettings"]["Networks"][engine.settings.network]["Gateway"]
    )


def test_stopping_a_server_ends_every_process_of_its_user(engine, user_image):
    task_id = engine.start(server(engine, user_image, "cat", 1003, LISTEN))
    running(engine, task_id)
    detached_process(docker.from_env().containers.get(task_id), "1003")
    engine.stop(task_id, "stopped by test")
    assert engine.describe(task_id).state == STOPPED
    # The container's end is every process's in it: none of the uid's is left by then.
    assert server_processes(task_id, 1003) == []


def test_a_server_past_its_memory_is_stopped_and_says_so(engine, user_image):
    hungry = ["python3", "-c", "x = bytearray(900 * 1024 * 1024); import time; time.sleep(60)"]
    task_id = engine.start(server(engine, user_image, "dan", 1004, hungry, memory=512))
    stopped = wait_for(
        lambda: (task := engine.describe(task_id)).state == STOPPED and task,
        60,
        "dan's server stopped",
    )
    assert stopped.reason == "OutOfMemoryError: the server used more than its size's memory"


def test_a_restarted_hub_finds_its_running_servers(engine, user_image):
    eve = engine.start(server(engine, user_image, "eve", 1005, LISTEN))
    running(engine, eve)
    # A new engine object, as a new hub process has: only what docker answers.
    again = DockerServers(engine.settings)
    assert [(task.id, task.username, task.state) for task in again.tasks()] == [
        (eve, "eve", RUNNING)
    ]
