"""End to end: the image the program declares, built, pushed to a registry with a password, run.

Only AWS's API is replaced (by the program's mocks); the engine, registry, identity provider, hub
and JupyterLab servers are real. Each test gets what it needs from the module's fixtures (one
image, one hub with logged-in users and their servers), so any one of them runs alone; the tests
that end someone's access run their own hub.
"""

import html
import json
import os
import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest
import requests

from local.docker_cli import buildkit_build, docker, inspect_image
from local.hub_container import HubContainer
from local.image import Pushed, build, push
from local.program import HubMocks, run_program
from local.registry import blob_uploads
from tests.e2e.conftest import stage
from tests.support import REQUEST_TIMEOUT, login, wait_for

pytestmark = pytest.mark.e2e

ADMIN = "admin@example.org"
STUDENT = "student1"
EMAIL_USER = "jane.doe@uni.nl"
STRANGER = "mallory@example.org"
# Let in by Cognito group membership, not by name.
GROUP_MEMBER = "group.member@uni.nl"
# Listed, but the base image already has an account of that name (uid 1000, as in Ubuntu).
IMAGE_ACCOUNT = "ubuntu"
STACK = {
    "adminUsers": [ADMIN],
    "allowedUsers": [EMAIL_USER, STUDENT, IMAGE_ACCOUNT],
    "allowedGroups": ["students"],
}
SERVER_START_SECONDS = 120
# The hub's run-time secrets: the builds run with them in their environment, the hubs get them.
RUN_SECRETS = {
    "OAUTH_CLIENT_SECRET": secrets.token_urlsafe(24),
    "JUPYTERHUB_CRYPT_KEY": secrets.token_hex(32),
}
# The accounts each user's server runs as, and their homes (users/names.py's rule).
HOMES = {EMAIL_USER: "/home/jane_doe_uni_nl", STUDENT: "/home/student1"}
ACCOUNTS = {EMAIL_USER: "jane_doe_uni_nl", STUDENT: "student1"}


def build_and_push(registry, base_image: str, docker_config: Path, **stack) -> Pushed:
    """Run the program under mocks (ECR standing in as the local registry), build, push.

    The build runs with the hub's run-time secrets in its environment, as on an operator's machine
    or a CI runner that also deploys; none of them may reach the image.
    """
    mocks = HubMocks(
        registry_host=registry.address, token_user_name="AWS", token_password=registry.password
    )
    declared = run_program({**STACK, **stack}, stack="e2e", mocks=mocks)
    tag = declared.outputs["imageName"].value.rsplit(":", 1)[1]
    with stage(f"build {tag}"), pytest.MonkeyPatch.context() as environment:
        for name, value in RUN_SECRETS.items():
            environment.setenv(name, value)
        build(declared, base_image)
    with stage(f"push {tag}"):
        return push(declared, docker_config)


@pytest.fixture(scope="module")
def pushed(registry, base_image, docker_config) -> Pushed:
    yield build_and_push(registry, base_image, docker_config)
    # The images named after this run's registry go with it; the build cache stays.
    names = docker("images", "--quiet", "--filter", f"reference={registry.address}/*").split()
    subprocess.run(["docker", "rmi", "--force", "--no-prune", *set(names)], capture_output=True)


@pytest.fixture(scope="module")
def pulled(pushed, docker_config) -> str:
    """The image as a deployment gets it: pulled from the registry by digest."""
    with stage("pull by digest"):
        # Keep the build cache (--no-prune); the image itself comes back from the registry.
        docker("rmi", "--no-prune", pushed.name)
        docker("pull", pushed.digest_ref, env=dict(os.environ, DOCKER_CONFIG=str(docker_config)))
    return pushed.digest_ref


@pytest.fixture(scope="module")
def provider_users(provider):
    for name in (ADMIN, STUDENT, EMAIL_USER, STRANGER, IMAGE_ACCOUNT):
        provider.add_user(name, preferred_username=name)
    provider.add_user(
        GROUP_MEMBER, preferred_username=GROUP_MEMBER, **{"cognito:groups": ["students"]}
    )
    return provider


def new_volumes() -> dict[str, str]:
    suffix = secrets.token_hex(4)
    return {f"e2e-home-{suffix}": "/home", f"e2e-data-{suffix}": "/srv/jupyterhub/data"}


@pytest.fixture
def hub_factory(pulled, provider_users):
    """Start hub containers from the pulled image, each on its own volumes; all go afterwards."""
    made = []

    def start(stage_name: str, host: str = "127.0.0.1", **settings: str) -> HubContainer:
        env = {**RUN_SECRETS, **settings}
        container = HubContainer(pulled, provider_users.url, new_volumes(), env=env, host=host)
        made.append(container)
        with stage(stage_name):
            container.start()
        return container

    yield start
    for container in made:
        container.stop()
        for name in container.volumes:
            subprocess.run(["docker", "volume", "rm", "--force", name], capture_output=True)


@pytest.fixture(scope="module")
def hub(pulled, provider_users):
    container = HubContainer(pulled, provider_users.url, new_volumes(), env=dict(RUN_SECRETS))
    with stage("start hub container"):
        container.start()
    yield container
    container.stop()
    for name in container.volumes:
        subprocess.run(["docker", "volume", "rm", "--force", name], capture_output=True)


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
def servers(hub, sessions) -> dict[str, int]:
    """The two users' JupyterLab started, a notebook saved in each; their accounts' uids."""
    owners = {}
    for username in (EMAIL_USER, STUDENT):
        with stage(f"start {username}'s server"):
            server = start_server(hub, sessions[username], username)
        save_notebook(sessions[username], server, "e2e.ipynb")
        owners[username] = uid_of(hub, ACCOUNTS[username])
    return owners


def api(session: requests.Session, hub: HubContainer, method: str, path: str):
    """The hub's REST API as its pages call it: the session cookie and its XSRF token."""
    session.get(f"{hub.url}/hub/home", timeout=REQUEST_TIMEOUT)
    xsrf = next(cookie.value for cookie in session.cookies if cookie.name == "_xsrf")
    return session.request(
        method, f"{hub.url}/hub/api{path}", headers={"X-XSRFToken": xsrf}, timeout=REQUEST_TIMEOUT
    )


def secrets_in(image: str, secret_values: dict[str, str]) -> list[str]:
    """The names of the secrets whose values an image's history or config holds."""
    text = docker("history", "--no-trunc", image) + docker("image", "inspect", image)
    return [name for name, value in secret_values.items() if value in text]


def owner_and_mode(hub: HubContainer, path: str) -> tuple[int, str]:
    done = hub.run("stat", "--format", "%u %a", path)
    assert done.returncode == 0, done.stderr
    uid, mode = done.stdout.split()
    return int(uid), mode


def uid_of(hub: HubContainer, account: str) -> int:
    done = hub.run("id", "--user", account)
    assert done.returncode == 0, f"no account {account} in the container: {done.stderr}"
    return int(done.stdout)


def start_server(hub, session: requests.Session, username: str, server: str = "") -> str:
    """Start the user's JupyterLab as a browser would; return its URL once JupyterLab loads.

    `server` is where it answers, if not on the hub's own origin (with user subdomains).
    """
    # JupyterHub's own URL for the user keeps '@' as it is (jane.doe@uni.nl, not %40).
    server = server or f"{hub.url}/user/{quote(username, safe='@')}"
    session.get(f"{hub.url}/hub/spawn", timeout=REQUEST_TIMEOUT)

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


def test_the_pushed_image_is_the_declared_one(pushed, registry):
    """The registry serves the declared name:tag, and its digest is what the deployment pins."""
    repository, tag = pushed.name.rsplit(":", 1)
    path = repository.split("/", 1)[1]
    answer = requests.get(
        f"http://{registry.address}/v2/{path}/manifests/{tag}",
        auth=(registry.username, registry.password),
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        timeout=REQUEST_TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    assert pushed.digest_ref.endswith("@" + answer.headers["Docker-Content-Digest"])


def test_the_image_holds_no_secret(pulled, registry, tmp_path):
    """The build ran with the secrets at hand and the registry login made; none is in the image."""
    secret_values = {**RUN_SECRETS, "REGISTRY_PASSWORD": registry.password}
    assert secrets_in(pulled, secret_values) == []
    # The same check finds a secret that a build does bake in (as a build argument would).
    (tmp_path / "Dockerfile").write_text(
        f"FROM {pulled}\nARG OAUTH_CLIENT_SECRET\nENV OAUTH_CLIENT_SECRET=$OAUTH_CLIENT_SECRET\n"
    )
    leaky = f"e2e-leaky-{secrets.token_hex(4)}"
    with pytest.MonkeyPatch.context() as environment:
        environment.setenv("OAUTH_CLIENT_SECRET", RUN_SECRETS["OAUTH_CLIENT_SECRET"])
        buildkit_build("--build-arg", "OAUTH_CLIENT_SECRET", "--tag", leaky, str(tmp_path))
    try:
        assert secrets_in(leaky, secret_values) == ["OAUTH_CLIENT_SECRET"]
    finally:
        docker("rmi", "--no-prune", leaky)


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


def test_notebooks_land_in_private_homes(hub, servers):
    for username, uid in servers.items():
        assert owner_and_mode(hub, HOMES[username]) == (uid, "700")
        assert owner_and_mode(hub, f"{HOMES[username]}/e2e.ipynb")[0] == uid
    assert servers[EMAIL_USER] != servers[STUDENT]
    # Each home is closed to the other user.
    peek = hub.run("ls", HOMES[EMAIL_USER], user=ACCOUNTS[STUDENT])
    assert peek.returncode != 0 and "Permission denied" in peek.stderr


def test_an_account_the_image_has_is_not_handed_out(hub):
    session = log_in(hub, IMAGE_ACCOUNT)
    session.get(f"{hub.url}/hub/spawn", timeout=REQUEST_TIMEOUT)
    pending = f"{hub.url}/hub/spawn-pending/{IMAGE_ACCOUNT}"

    def refused():
        page = html.unescape(session.get(pending, timeout=REQUEST_TIMEOUT).text)
        return "Spawn failed" in page and "Unix account 'ubuntu'" in page

    wait_for(refused, SERVER_START_SECONDS, f"the spawn page at {pending} to show the refusal")
    # The image's own account is untouched: still uid 1000.
    assert uid_of(hub, IMAGE_ACCOUNT) == 1000


def test_the_hub_runs_under_an_init_that_reaps_orphans(hub):
    assert hub.run("cat", "/proc/1/comm").stdout.strip() == "tini"
    # A process whose parent exits is handed to PID 1, as a kernel's children are.
    orphan = hub.run("sh", "-c", "sleep 0.5 & echo $!")
    pid = orphan.stdout.strip()
    assert pid.isdigit(), orphan.stderr
    # A zombie keeps its /proc entry until its parent (now PID 1) reaps it.
    wait_for(
        lambda: hub.run("test", "-e", f"/proc/{pid}").returncode != 0,
        30,
        f"PID 1 to reap the finished orphan {pid}",
    )


def test_a_new_container_on_the_same_volumes_keeps_everything(hub, sessions, servers, provider):
    hub.stop()
    with stage("restart hub container"):
        hub.start()
    # The login session survives: the cookie secret and database are on the data volume.
    home = sessions[STUDENT].get(f"{hub.url}/hub/home", allow_redirects=False, timeout=10)
    assert home.status_code == 200, "the restart logged the student out"
    # So does each name's binding to its identity: another account with the name is refused.
    provider.add_user("impostor", preferred_username=EMAIL_USER)
    _, impostor = login(hub, "impostor")
    assert impostor.status_code == 403
    assert "already bound to another" in html.unescape(impostor.text)
    # Both servers start at once; accounts come back, each with the uid that owns its files.
    with ThreadPoolExecutor(2) as pool:
        started = pool.map(lambda name: start_server(hub, sessions[name], name), servers)
        assert len(list(started)) == 2
    for username, uid in servers.items():
        assert uid_of(hub, ACCOUNTS[username]) == uid
        assert owner_and_mode(hub, f"{HOMES[username]}/e2e.ipynb")[0] == uid
        assert owner_and_mode(hub, HOMES[username]) == (uid, "700")


def test_someone_taken_off_the_list_is_out_at_the_next_start(hub_factory):
    own_hub = hub_factory("start a hub to take a user off")
    student, stays = log_in(own_hub, STUDENT), log_in(own_hub, EMAIL_USER)
    admin = log_in(own_hub, ADMIN)
    start_server(own_hub, student, STUDENT)
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
    server = student.get(f"{own_hub.url}/user/{STUDENT}/lab", allow_redirects=False, timeout=10)
    assert server.status_code == 302 and "/hub/" in server.headers["location"]
    # Their files stay on /home, for an operator to keep or delete.
    assert owner_and_mode(own_hub, HOMES[STUDENT])[1] == "700"


def test_an_idle_server_is_stopped_by_the_culler(hub_factory):
    own_hub = hub_factory("start a hub that culls after 10 s", JUPYTERHUB_CULL_IDLE_TIMEOUT="10")
    student = log_in(own_hub, STUDENT)
    assert api(student, own_hub, "POST", f"/users/{STUDENT}/server").status_code in (201, 202)

    def servers():
        return api(student, own_hub, "GET", "/user").json()["servers"]

    wait_for(lambda: servers().get("", {}).get("ready"), SERVER_START_SECONDS, "the server")
    # Nobody uses it: the culler, with only its own role's scopes, stops it.
    wait_for(lambda: servers() == {}, 60, "the idle culler to stop the idle server")


def test_a_users_only_change_uploads_no_layer(pushed, registry, base_image, docker_config):
    before = len(blob_uploads(registry.log_path))
    newcomers = [*STACK["allowedUsers"], "newcomer@uni.nl"]
    changed = build_and_push(registry, base_image, docker_config, allowedUsers=newcomers)
    assert changed.name != pushed.name, "a users-only change must get a new tag"
    uploads = blob_uploads(registry.log_path)[before:]
    digests = [parse_qs(urlparse(upload.path).query)["digest"][0] for upload in uploads]
    assert digests == [changed.config_digest], "only the new image config may be uploaded"
    assert inspect_image(changed.name)["RootFS"] == inspect_image(pushed.digest_ref)["RootFS"]


# JupyterHub 6's DNS label for jane.doe@uni.nl, a name that is none (see test_hub_subdomains.py).
EMAIL_USER_LABEL = "u-janedoeu--63e4897"


def test_each_users_server_answers_on_its_own_subdomain(hub_factory):
    """As `make try` runs the image: reached as localhost, servers at <user>.localhost."""
    own_hub = hub_factory(
        "start a hub with user subdomains", host="localhost", USER_SUBDOMAINS="true"
    )
    port = own_hub.url.rsplit(":", 1)[1]
    jane = log_in(own_hub, EMAIL_USER)
    server = f"http://{EMAIL_USER_LABEL}.localhost:{port}/user/{EMAIL_USER}"
    with stage(f"start {EMAIL_USER}'s server on its subdomain"):
        start_server(own_hub, jane, EMAIL_USER, server)
    save_notebook(jane, server, "subdomain.ipynb")
    uid = uid_of(own_hub, ACCOUNTS[EMAIL_USER])
    assert owner_and_mode(own_hub, f"{HOMES[EMAIL_USER]}/subdomain.ipynb")[0] == uid
    # The hub's login cookie never goes to the server's origin.
    sent = jane.get(f"{server}/lab", timeout=REQUEST_TIMEOUT)
    assert "jupyterhub-hub-login" not in sent.request.headers.get("Cookie", "")


def test_a_released_names_new_owner_does_not_see_the_old_files(hub_factory, provider_users):
    own_hub = hub_factory("start a hub to release a name")
    first = log_in(own_hub, STUDENT)
    server = start_server(own_hub, first, STUDENT)
    save_notebook(first, server, "first-owners.ipynb")
    first_uid = uid_of(own_hub, ACCOUNTS[STUDENT])
    # An admin deletes the user (their Cognito account went); another identity takes the name.
    admin = log_in(own_hub, ADMIN)
    wait_for(
        lambda: api(admin, own_hub, "DELETE", f"/users/{STUDENT}").status_code in (204, 404),
        SERVER_START_SECONDS,
        f"{STUDENT}'s deletion once their server has stopped",
    )
    provider_users.add_user("student1-new-identity", preferred_username=STUDENT)
    with stage("log in the name's new owner"):
        second, callback = login(own_hub, "student1-new-identity")
    assert callback.status_code == 302, callback.text
    start_server(own_hub, second, STUDENT)
    listing = second.get(f"{server}/api/contents", timeout=REQUEST_TIMEOUT)
    assert listing.status_code == 200, listing.text
    assert [item["name"] for item in listing.json()["content"]] == []
    second_uid = uid_of(own_hub, ACCOUNTS[STUDENT])
    assert second_uid != first_uid
    assert owner_and_mode(own_hub, HOMES[STUDENT]) == (second_uid, "700")
    # The first owner's files, kept aside where only root reaches them, with a line in the log.
    aside = own_hub.run("sh", "-c", f"ls -d /home/.hub-released/{STUDENT}.*")
    assert aside.returncode == 0, aside.stderr
    kept = f"{aside.stdout.strip()}/first-owners.ipynb"
    assert owner_and_mode(own_hub, kept)[0] == first_uid
    assert owner_and_mode(own_hub, "/home/.hub-released") == (0, "700")
    assert f"Hub user '{STUDENT}' is now identity student1-new-identity" in own_hub.logs()
