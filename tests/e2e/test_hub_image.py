"""End to end: the images the program declares, built, pushed to a registry with a password, run.

Only AWS's API is replaced (by the program's mocks), and ECS by the local Docker engine: each
user's server is a container of its own from the user image, as it is a task of its own on AWS.
The engine, registry, identity provider, hub and JupyterLab servers are real. Each test gets what
it needs from the module's fixtures (the images, one hub with logged-in users and their servers),
so any one of them runs alone; the tests that end someone's access run their own hub.
"""

import html
import json
import os
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import docker as docker_engine
import pytest
import requests

from local.docker_cli import buildkit_build, docker, inspect_image
from local.hub_container import HubContainer
from local.image import Pushed, build, push
from local.program import HubMocks, run_program
from local.registry import blob_uploads
from tests.e2e.conftest import stage
from tests.support import (
    REQUEST_TIMEOUT,
    SPAWN_ANSWER_SECONDS,
    detached_process,
    login,
    server_processes,
    wait_for,
)

pytestmark = pytest.mark.e2e

ADMIN = "admin@example.org"
STUDENT = "student1"
EMAIL_USER = "jane.doe@uni.nl"
STRANGER = "mallory@example.org"
# Let in by Cognito group membership, not by name.
GROUP_MEMBER = "group.member@uni.nl"
STACK = {
    "adminUsers": [ADMIN],
    "allowedUsers": [EMAIL_USER, STUDENT],
    "allowedGroups": ["students"],
}
SERVER_START_SECONDS = 120
# The hub's run-time secrets: the builds run with them in their environment, the hubs get them.
RUN_SECRETS = {
    "OAUTH_CLIENT_SECRET": secrets.token_urlsafe(24),
    "JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32),
}
# Each user's home directory (users/names.py's rule), here and in their server.
HOMES = {EMAIL_USER: "jane_doe_uni_nl", STUDENT: "student1"}
# The sizes the stack offers: everyone's, and one for the students' group.
SIZES = [
    {"name": "standard", "cpu": 512, "memory": 1024},
    {"name": "large", "cpu": 1024, "memory": 2048, "groups": ["students"]},
]


def build_and_push(
    registry, base_image: str, docker_config: Path, image: str = "hub", **stack
) -> Pushed:
    """Run the program under mocks (ECR standing in as the local registry), build, push `image`.

    The build runs with the hub's run-time secrets in its environment, as on an operator's machine
    or a CI runner that also deploys; none of them may reach the image.
    """
    mocks = HubMocks(
        registry_host=registry.address, token_user_name="AWS", token_password=registry.password
    )
    declared = run_program({**STACK, **stack}, stack="e2e", mocks=mocks)
    names = {"hub": "imageName", "user": "userImageName"}
    tag = declared.outputs[names[image]].value.rsplit(":", 1)[1]
    with stage(f"build {image} {tag}"), pytest.MonkeyPatch.context() as environment:
        for name, value in RUN_SECRETS.items():
            environment.setenv(name, value)
        build(declared, base_image, image=image)
    with stage(f"push {image} {tag}"):
        return push(declared, docker_config, image=image)


@pytest.fixture(scope="module")
def pushed(registry, base_image, docker_config) -> dict[str, Pushed]:
    """The hub image and the user image, pushed."""
    yield {
        image: build_and_push(registry, base_image, docker_config, image)
        for image in ("hub", "user")
    }
    # The images named after this run's registry go with it; the build cache stays.
    names = docker("images", "--quiet", "--filter", f"reference={registry.address}/*").split()
    subprocess.run(["docker", "rmi", "--force", "--no-prune", *set(names)], capture_output=True)


@pytest.fixture(scope="module")
def pulled(pushed, docker_config) -> dict[str, str]:
    """The images as a deployment gets them: pulled from the registry by digest."""
    refs = {}
    for image, made in pushed.items():
        with stage(f"pull {image} by digest"):
            # Keep the build cache (--no-prune); the image itself comes back from the registry.
            docker("rmi", "--no-prune", made.name)
            env = dict(os.environ, DOCKER_CONFIG=str(docker_config))
            docker("pull", made.digest_ref, env=env)
        refs[image] = made.digest_ref
    return refs


@pytest.fixture(scope="module")
def provider_users(provider):
    for name in (ADMIN, STUDENT, EMAIL_USER, STRANGER):
        provider.add_user(name, username=name)
    provider.add_user(GROUP_MEMBER, username=GROUP_MEMBER, **{"cognito:groups": ["students"]})
    return provider


def new_hub(pulled, provider, **settings) -> HubContainer:
    """A hub container from the pulled images, with homes and data of its own."""
    homes = Path(tempfile.mkdtemp(prefix="e2e-homes-"))
    data = f"e2e-data-{secrets.token_hex(4)}"
    env = {**RUN_SECRETS, **settings}
    host = env.pop("host", "127.0.0.1")
    return HubContainer(
        pulled["hub"], pulled["user"], provider.url, homes, data, env=env, host=host, sizes=SIZES
    )


def remove(hub: HubContainer) -> None:
    """The hub, its users' servers, its data and its homes: all gone."""
    hub.stop()
    hub.remove_servers()
    subprocess.run(["docker", "volume", "rm", "--force", hub.data_volume], capture_output=True)
    shutil.rmtree(hub.homes, ignore_errors=True)


@pytest.fixture
def hub_factory(pulled, provider_users):
    """Start hubs from the pulled images, each with homes and data of its own; all go afterwards."""
    made = []

    def start(stage_name: str, **settings: str) -> HubContainer:
        container = new_hub(pulled, provider_users, **settings)
        made.append(container)
        with stage(stage_name):
            container.start()
        return container

    yield start
    for container in made:
        remove(container)


@pytest.fixture(scope="module")
def hub(pulled, provider_users):
    container = new_hub(pulled, provider_users)
    with stage("start hub container"):
        container.start()
    yield container
    remove(container)


def log_in(hub: HubContainer, username: str) -> requests.Session:
    with stage(f"log in {username}"):
        session, callback = login(hub, username)
    assert callback.status_code == 302, f"{username}: {callback.status_code} {callback.text}"
    return session


@pytest.fixture(scope="module")
def sessions(hub) -> dict[str, requests.Session]:
    """The listed users and a group member, logged in to the shared hub."""
    return {name: log_in(hub, name) for name in (ADMIN, STUDENT, EMAIL_USER, GROUP_MEMBER)}


@pytest.fixture(scope="module")
def servers(hub, sessions) -> dict[str, str]:
    """The two users' JupyterLab started, a notebook saved in each; their containers' ids."""
    containers = {}
    for username in (EMAIL_USER, STUDENT):
        with stage(f"start {username}'s server"):
            server = start_server(hub, sessions[username], username)
        save_notebook(sessions[username], server, "e2e.ipynb")
        [containers[username]] = hub.servers(username)
    return containers


def api(session: requests.Session, hub: HubContainer, method: str, path: str):
    """The hub's REST API as its pages call it: the session cookie and its XSRF token."""
    session.get(f"{hub.url}/hub/home", timeout=REQUEST_TIMEOUT)
    xsrf = next(cookie.value for cookie in session.cookies if cookie.name == "_xsrf")
    return session.request(
        method,
        f"{hub.url}/hub/api{path}",
        headers={"X-XSRFToken": xsrf},
        timeout=SPAWN_ANSWER_SECONDS,
    )


def secrets_in(image: str, secret_values: dict[str, str]) -> list[str]:
    """The names of the secrets whose values an image's history or config holds."""
    text = docker("history", "--no-trunc", image) + docker("image", "inspect", image)
    return [name for name, value in secret_values.items() if value in text]


def owner_and_mode(path: Path) -> tuple[int, str]:
    info = path.stat()
    return info.st_uid, f"{info.st_mode & 0o777:o}"


def container(container_id: str):
    return docker_engine.from_env().containers.get(container_id)


def uid_of(hub: HubContainer, username: str) -> int:
    """The uid the user's server runs as, from its container."""
    [running] = hub.servers(username)
    return int(container(running).attrs["Config"]["User"].split(":")[0])


def run_in(container_id: str, command: list[str], user: str) -> tuple[int, str]:
    done = container(container_id).exec_run(command, user=user)
    return done.exit_code, done.output.decode()


def start_server(hub, session: requests.Session, username: str, server: str = "") -> str:
    """Start the user's JupyterLab as a browser would; return its URL once JupyterLab loads.

    `server` is where it answers, if not on the hub's own origin (with user subdomains).
    """
    # JupyterHub's own URL for the user keeps '@' as it is (jane.doe@uni.nl, not %40).
    server = server or f"{hub.url}/user/{quote(username, safe='@')}"
    session.get(f"{hub.url}/hub/spawn", timeout=SPAWN_ANSWER_SECONDS)

    def lab_loads():
        # Until the server is up, the hub answers with its spawn-pending page instead.
        answer = session.get(f"{server}/lab", timeout=REQUEST_TIMEOUT)
        return answer.ok and answer.url.startswith(f"{server}/lab")

    wait_for(lab_loads, SERVER_START_SECONDS, f"{username}'s JupyterLab at {server}/lab")
    return server


def save_notebook(session: requests.Session, server: str, name: str) -> None:
    """PUT a notebook through the Jupyter server's contents API, as JupyterLab saves one."""
    server_path = urlparse(server).path
    # JupyterLab's page set this cookie; the server checks it against the header on writes.
    xsrf = next(
        c.value for c in session.cookies if c.name == "_xsrf" and c.path.startswith(server_path)
    )
    notebook = {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    answer = session.put(
        f"{server}/api/contents/{name}",
        json={"type": "notebook", "content": notebook},
        headers={"X-XSRFToken": xsrf},
        timeout=REQUEST_TIMEOUT,
    )
    assert answer.status_code in (200, 201), f"saving {name}: {answer.status_code} {answer.text}"


@pytest.mark.parametrize("image", ["hub", "user"])
def test_the_pushed_image_is_the_declared_one(pushed, registry, image):
    """The registry serves the declared name:tag, and its digest is what the deployment pins."""
    repository, tag = pushed[image].name.rsplit(":", 1)
    path = repository.split("/", 1)[1]
    answer = requests.get(
        f"http://{registry.address}/v2/{path}/manifests/{tag}",
        auth=(registry.username, registry.password),
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        timeout=REQUEST_TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    assert pushed[image].digest_ref.endswith("@" + answer.headers["Docker-Content-Digest"])


def test_the_images_hold_no_secret(pulled, registry, tmp_path):
    """The builds ran with the secrets at hand and the registry login made; none is in an image."""
    secret_values = {**RUN_SECRETS, "REGISTRY_PASSWORD": registry.password}
    for image in pulled.values():
        assert secrets_in(image, secret_values) == []
    # The same check finds a secret that a build does bake in (as a build argument would).
    (tmp_path / "Dockerfile").write_text(
        f"FROM {pulled['hub']}\n"
        "ARG OAUTH_CLIENT_SECRET\nENV OAUTH_CLIENT_SECRET=$OAUTH_CLIENT_SECRET\n"
    )
    leaky = f"e2e-leaky-{secrets.token_hex(4)}"
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("OAUTH_CLIENT_SECRET", RUN_SECRETS["OAUTH_CLIENT_SECRET"])
        buildkit_build("--build-arg", "OAUTH_CLIENT_SECRET", "--tag", leaky, str(tmp_path))
    try:
        assert secrets_in(leaky, secret_values) == ["OAUTH_CLIENT_SECRET"]
    finally:
        docker("rmi", "--no-prune", leaky)


def test_the_hub_image_runs_no_jupyterlab(pulled):
    # Users' servers run the user image; the hub's own image has the hub and its proxy only.
    for module, in_hub in (("jupyterhub", True), ("jupyterlab", False)):
        look = f"import importlib.util as u; print(bool(u.find_spec('{module}')))"
        found = docker("run", "--rm", "--entrypoint", "python3", pulled["hub"], "-c", look)
        assert found.strip() == str(in_hub), module


def test_logins(hub, sessions):
    for username, session in sessions.items():
        home = session.get(f"{hub.url}/hub/home", allow_redirects=False, timeout=REQUEST_TIMEOUT)
        assert home.status_code == 200, f"{username} does not reach /hub/home"
    me = sessions[EMAIL_USER].get(f"{hub.url}/hub/api/user", timeout=REQUEST_TIMEOUT)
    assert me.json()["name"] == EMAIL_USER
    group_member = sessions[GROUP_MEMBER].get(f"{hub.url}/hub/api/user", timeout=REQUEST_TIMEOUT)
    assert group_member.json()["groups"] == ["students"]
    admin_page = f"{hub.url}/hub/admin"
    assert sessions[ADMIN].get(admin_page, timeout=REQUEST_TIMEOUT).status_code == 200
    assert sessions[STUDENT].get(admin_page, timeout=REQUEST_TIMEOUT).status_code == 403
    _, refused = login(hub, STRANGER)
    assert refused.status_code == 403


def test_each_users_server_is_a_container_of_its_own_with_only_their_home(hub, servers):
    uids = {username: uid_of(hub, username) for username in servers}
    assert uids[EMAIL_USER] != uids[STUDENT] and min(uids.values()) >= 1000
    for username, container_id in servers.items():
        home = hub.homes / HOMES[username]
        assert owner_and_mode(home) == (uids[username], "700")
        assert (home / "e2e.ipynb").stat().st_uid == uids[username]
        mounts = container(container_id).attrs["Mounts"]
        assert [(m["Source"], m["Destination"]) for m in mounts] == [
            (str(home.resolve()), f"/home/{HOMES[username]}")
        ]
        # /home lists no one; the other user's home is not even there.
        other = HOMES[STUDENT if username == EMAIL_USER else EMAIL_USER]
        uid = str(uids[username])
        assert run_in(container_id, ["ls", "/home"], uid)[0] != 0
        assert run_in(container_id, ["test", "-e", f"/home/{other}"], uid)[0] != 0
    # Each has a /tmp of its own.
    jane, student = servers[EMAIL_USER], servers[STUDENT]
    mark = "/tmp/jane-was-here"  # noqa: S108 (in jane's own container)
    assert run_in(jane, ["sh", "-c", f"echo secret > {mark}"], str(uids[EMAIL_USER]))[0] == 0
    assert run_in(student, ["test", "-e", mark], str(uids[STUDENT]))[0] != 0


def test_no_users_server_reaches_anothers(hub, servers):
    addresses = {
        username: next(iter(container(cid).attrs["NetworkSettings"]["Networks"].values()))[
            "IPAddress"
        ]
        for username, cid in servers.items()
    }
    reach = "import socket; socket.create_connection(({!r}, 8888), timeout=5)"
    code, said = run_in(
        servers[STUDENT], ["python3", "-c", reach.format(addresses[EMAIL_USER])], "0"
    )
    assert code != 0, f"the student's server reached jane's: {said}"
    # The hub, on this machine's network, reaches both (it proxies to them).
    for address in addresses.values():
        subprocess.run(["python3", "-c", reach.format(address)], check=True)


def test_the_hub_runs_under_an_init_that_reaps_orphans(hub):
    assert hub.run("cat", "/proc/1/comm").stdout.strip() == "tini"
    # A process whose parent exits is handed to PID 1, as a service's children are.
    orphan = hub.run("sh", "-c", "sleep 0.5 & echo $!")
    pid = orphan.stdout.strip()
    assert pid.isdigit(), orphan.stderr
    # A zombie keeps its /proc entry until its parent (now PID 1) reaps it.
    wait_for(
        lambda: hub.run("test", "-e", f"/proc/{pid}").returncode != 0,
        30,
        f"PID 1 to reap the finished orphan {pid}",
    )


def kernel_of(session: requests.Session, hub: HubContainer, username: str) -> str:
    """A kernel started in the user's server through its API, as JupyterLab starts one."""
    server = f"{hub.url}/user/{quote(username, safe='@')}"
    xsrf = next(
        c.value
        for c in session.cookies
        if c.name == "_xsrf" and c.path.startswith(urlparse(server).path)
    )
    started = session.post(
        f"{server}/api/kernels", json={"name": "python3"}, headers={"X-XSRFToken": xsrf}, timeout=30
    )
    assert started.status_code == 201, started.text
    return started.json()["id"]


def test_a_hub_restart_ends_no_server_and_no_kernel(hub, sessions, servers, provider):
    kernel = kernel_of(sessions[STUDENT], hub, STUDENT)
    hub.stop()
    with stage("restart hub container"):
        hub.start()
    # The users' servers ran on, the same containers.
    for username, container_id in servers.items():
        assert hub.servers(username) == [container_id]
    # The login session survives: the cookie secret and database are on the data volume.
    home = sessions[STUDENT].get(f"{hub.url}/hub/home", allow_redirects=False, timeout=10)
    assert home.status_code == 200, "the restart logged the student out"
    # The kernel too: the restarted hub routes to the server, which still runs it.
    server = f"{hub.url}/user/{STUDENT}"
    kernels = wait_for(
        lambda: (
            (answer := sessions[STUDENT].get(f"{server}/api/kernels", timeout=10)).ok
            and answer.json()
        ),
        60,
        "the student's server through the restarted hub",
    )
    [still] = [k for k in kernels if k["id"] == kernel]
    assert still["execution_state"] in ("idle", "busy", "starting")
    # So does each name's binding to its identity: another account with the name is refused.
    provider.add_user("impostor", username=EMAIL_USER)
    _, impostor = login(hub, "impostor")
    assert impostor.status_code == 403
    assert "already bound to another" in html.unescape(impostor.text)


def test_stopping_a_server_ends_every_process_of_its_user(hub_factory):
    own_hub = hub_factory("start a hub to stop a server")
    student = log_in(own_hub, STUDENT)
    start_server(own_hub, student, STUDENT)
    [server] = own_hub.servers(STUDENT)
    uid = uid_of(own_hub, STUDENT)
    detached_process(container(server), str(uid))
    assert api(student, own_hub, "DELETE", f"/users/{STUDENT}/server").status_code in (202, 204)
    wait_for(lambda: not own_hub.servers(STUDENT), 60, "the student's container gone")
    wait_for(lambda: server_processes(server, uid) == [], 30, f"no process of uid {uid} left")


def test_someone_taken_off_the_list_is_out_at_the_next_start(hub_factory):
    own_hub = hub_factory("start a hub to take a user off")
    student, stays = log_in(own_hub, STUDENT), log_in(own_hub, EMAIL_USER)
    admin = log_in(own_hub, ADMIN)
    start_server(own_hub, student, STUDENT)
    uid = uid_of(own_hub, STUDENT)
    [server] = own_hub.servers(STUDENT)
    detached_process(container(server), str(uid))
    made = api(student, own_hub, "POST", f"/users/{STUDENT}/tokens")
    assert made.status_code == 201, made.text
    token = {"Authorization": f"token {made.json()['token']}"}
    own_hub.stop()
    # The operator takes the student off allowedUsers; the deployment runs the new list.
    remaining = [name for name in STACK["allowedUsers"] if name != STUDENT]
    own_hub.extra_env["ALLOWED_USERS"] = json.dumps(remaining)
    with stage("restart hub container without the student"):
        own_hub.start()
    assert api(stays, own_hub, "GET", "/user").json()["name"] == EMAIL_USER
    kept_out = student.get(f"{own_hub.url}/hub/home", allow_redirects=False, timeout=10)
    assert kept_out.status_code == 302 and "/hub/login" in kept_out.headers["location"]
    user_api = f"{own_hub.url}/hub/api/user"
    assert requests.get(user_api, headers=token, timeout=10).status_code == 403
    # The student's record and server are gone: the admin's API no longer knows them.
    assert api(admin, own_hub, "GET", f"/users/{STUDENT}").status_code == 404
    # Their server's container stopped, with every process in it.
    wait_for(lambda: not own_hub.servers(STUDENT), 60, "the student's container gone")
    wait_for(lambda: server_processes(server, uid) == [], 30, f"no process of uid {uid} left")
    # Their files stay on /home, for an operator to keep or delete.
    assert owner_and_mode(own_hub.homes / HOMES[STUDENT]) == (uid, "700")


def test_an_idle_server_is_stopped_by_the_culler(hub_factory):
    own_hub = hub_factory("start a hub that culls after 10 s", JUPYTERHUB_CULL_IDLE_TIMEOUT="10")
    student = log_in(own_hub, STUDENT)
    assert api(student, own_hub, "POST", f"/users/{STUDENT}/server").status_code in (201, 202)

    def servers():
        return api(student, own_hub, "GET", "/user").json()["servers"]

    wait_for(lambda: servers().get("", {}).get("ready"), SERVER_START_SECONDS, "the server")
    assert own_hub.servers(STUDENT)
    # Nobody uses it: the culler, with only its own role's scopes, stops it, and its container.
    wait_for(lambda: servers() == {}, 60, "the idle culler to stop the idle server")
    wait_for(lambda: not own_hub.servers(STUDENT), 60, "the idle server's container gone")


def test_a_users_only_change_uploads_no_layer(pushed, registry, base_image, docker_config):
    before = len(blob_uploads(registry.log_path))
    newcomers = [*STACK["allowedUsers"], "newcomer@uni.nl"]
    changed = build_and_push(registry, base_image, docker_config, allowedUsers=newcomers)
    assert changed.name != pushed["hub"].name, "a users-only change must get a new tag"
    uploads = blob_uploads(registry.log_path)[before:]
    digests = [parse_qs(urlparse(upload.path).query)["digest"][0] for upload in uploads]
    assert digests == [changed.config_digest], "only the new image config may be uploaded"
    assert (
        inspect_image(changed.name)["RootFS"] == inspect_image(pushed["hub"].digest_ref)["RootFS"]
    )


# JupyterHub 6's DNS label for jane.doe@uni.nl, a name that is none (see test_hub_subdomains.py).
EMAIL_USER_LABEL = "u-janedoeu--63e4897"


def test_each_users_server_answers_on_its_own_subdomain(hub_factory):
    """As `make try` runs the images: reached as localhost, servers at <user>.localhost."""
    own_hub = hub_factory(
        "start a hub with user subdomains", host="localhost", USER_SUBDOMAINS="true"
    )
    port = own_hub.url.rsplit(":", 1)[1]
    jane = log_in(own_hub, EMAIL_USER)
    server = f"http://{EMAIL_USER_LABEL}.localhost:{port}/user/{EMAIL_USER}"
    with stage(f"start {EMAIL_USER}'s server on its subdomain"):
        start_server(own_hub, jane, EMAIL_USER, server)
    save_notebook(jane, server, "subdomain.ipynb")
    uid = uid_of(own_hub, EMAIL_USER)
    assert (own_hub.homes / HOMES[EMAIL_USER] / "subdomain.ipynb").stat().st_uid == uid
    # The hub's login cookie never goes to the server's origin.
    sent = jane.get(f"{server}/lab", timeout=REQUEST_TIMEOUT)
    assert "jupyterhub-hub-login" not in sent.request.headers.get("Cookie", "")


def test_a_released_names_new_owner_does_not_see_the_old_files(hub_factory, provider_users):
    own_hub = hub_factory("start a hub to release a name")
    first = log_in(own_hub, STUDENT)
    server = start_server(own_hub, first, STUDENT)
    save_notebook(first, server, "first-owners.ipynb")
    first_uid = uid_of(own_hub, STUDENT)
    # An admin deletes the user (their Cognito account went); another identity takes the name.
    admin = log_in(own_hub, ADMIN)
    wait_for(
        lambda: api(admin, own_hub, "DELETE", f"/users/{STUDENT}").status_code in (204, 404),
        SERVER_START_SECONDS,
        f"{STUDENT}'s deletion once their server has stopped",
    )
    wait_for(lambda: not own_hub.servers(STUDENT), 60, "the first owner's container gone")
    provider_users.add_user("student1-new-identity", username=STUDENT)
    with stage("log in the name's new owner"):
        second, callback = login(own_hub, "student1-new-identity")
    assert callback.status_code == 302, callback.text
    start_server(own_hub, second, STUDENT)
    listing = second.get(f"{server}/api/contents", timeout=REQUEST_TIMEOUT)
    assert listing.status_code == 200, listing.text
    assert [item["name"] for item in listing.json()["content"]] == []
    second_uid = uid_of(own_hub, STUDENT)
    assert second_uid != first_uid
    assert owner_and_mode(own_hub.homes / HOMES[STUDENT]) == (second_uid, "700")
    # The first owner's files, kept aside where only root reaches them, with a line in the log.
    released = own_hub.homes / ".hub-released"
    [aside] = list(released.glob(f"{STUDENT}.*"))
    assert (aside / "first-owners.ipynb").stat().st_uid == first_uid
    assert owner_and_mode(released) == (0, "700")
    assert f"Hub user '{STUDENT}' is now identity student1-new-identity" in own_hub.logs()
