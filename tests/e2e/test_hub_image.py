"""End to end: the image the program declares, built, pushed to a registry with a password, run.

Only AWS's API is replaced (by the program's mocks); the engine, registry, identity provider, hub
and JupyterLab servers are real. The tests run in order and share one image, hub and volumes.
"""

import html
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import pytest
import requests

from local.docker_cli import docker, inspect_image
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


def build_and_push(registry, base_image: str, docker_config: Path, **stack) -> Pushed:
    """Run the program under mocks (ECR standing in as the local registry), build, push."""
    mocks = HubMocks(
        registry_host=registry.address, token_user_name="AWS", token_password=registry.password
    )
    declared = run_program({**STACK, **stack}, stack="e2e", mocks=mocks)
    tag = declared.outputs["imageName"].value.rsplit(":", 1)[1]
    with stage(f"build {tag}"):
        build(declared, base_image)
    with stage(f"push {tag}"):
        return push(declared, docker_config)


@pytest.fixture(scope="module")
def docker_config():
    """A throw-away docker client config: the registry login never lands in ~/.docker."""
    path = Path(tempfile.mkdtemp(prefix="docker-config-"))
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def pushed(registry, base_image, docker_config) -> Pushed:
    yield build_and_push(registry, base_image, docker_config)
    # The images named after this run's registry go with it; the build cache stays.
    names = docker("images", "--quiet", "--filter", f"reference={registry.address}/*").split()
    subprocess.run(["docker", "rmi", "--force", "--no-prune", *set(names)], capture_output=True)


@pytest.fixture(scope="module")
def volumes(docker_engine):
    suffix = secrets.token_hex(4)
    names = {f"e2e-home-{suffix}": "/home", f"e2e-data-{suffix}": "/srv/jupyterhub/data"}
    yield names
    for name in names:
        subprocess.run(["docker", "volume", "rm", "--force", name], capture_output=True)


@pytest.fixture(scope="module")
def hub(pushed, provider, volumes, docker_config):
    for name in (ADMIN, STUDENT, EMAIL_USER, STRANGER, IMAGE_ACCOUNT):
        provider.add_user(name, preferred_username=name)
    provider.add_user(
        GROUP_MEMBER, preferred_username=GROUP_MEMBER, **{"cognito:groups": ["students"]}
    )
    with stage("pull by digest"):
        # Keep the build cache (--no-prune); the image itself comes back from the registry.
        docker("rmi", "--no-prune", pushed.name)
        docker("pull", pushed.digest_ref, env=dict(os.environ, DOCKER_CONFIG=str(docker_config)))
    container = HubContainer(pushed.digest_ref, provider.url, volumes)
    with stage("start hub container"):
        container.start()
    yield container
    container.stop()


def owner_and_mode(hub: HubContainer, path: str) -> tuple[int, str]:
    done = hub.run("stat", "--format", "%u %a", path)
    assert done.returncode == 0, done.stderr
    uid, mode = done.stdout.split()
    return int(uid), mode


def uid_of(hub: HubContainer, account: str) -> int:
    done = hub.run("id", "--user", account)
    assert done.returncode == 0, f"no account {account} in the container: {done.stderr}"
    return int(done.stdout)


def start_server(hub, session: requests.Session, username: str) -> str:
    """Start the user's JupyterLab as a browser would; return its URL once JupyterLab loads."""
    # JupyterHub's own URL for the user keeps '@' as it is (jane.doe@uni.nl, not %40).
    server = f"{hub.url}/user/{quote(username, safe='@')}"
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


# The accounts each user's server runs as, and their homes (users/names.py's rule).
HOMES = {EMAIL_USER: "/home/jane_doe_uni_nl", STUDENT: "/home/student1"}
ACCOUNTS = {EMAIL_USER: "jane_doe_uni_nl", STUDENT: "student1"}
SESSIONS: dict[str, requests.Session] = {}
OWNERS: dict[str, int] = {}


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


def test_the_image_holds_no_secret(pushed, hub, registry):
    """Neither the OAuth client secret nor the registry password is in the image or its history."""
    history = docker("history", "--no-trunc", pushed.digest_ref)
    metadata = docker("image", "inspect", pushed.digest_ref)
    for secret in (hub.client_secret, hub.crypt_key, "OAUTH_CLIENT_SECRET", registry.password):
        assert secret not in history and secret not in metadata


def test_logins(hub):
    for username in (ADMIN, STUDENT, EMAIL_USER, GROUP_MEMBER):
        with stage(f"log in {username}"):
            session, callback = login(hub, username)
        assert callback.status_code == 302, f"{username}: {callback.status_code} {callback.text}"
        home = session.get(f"{hub.url}/hub/home", allow_redirects=False, timeout=REQUEST_TIMEOUT)
        assert home.status_code == 200, f"{username} does not reach /hub/home"
        SESSIONS[username] = session
    me = SESSIONS[EMAIL_USER].get(f"{hub.url}/hub/api/user", timeout=REQUEST_TIMEOUT)
    assert me.json()["name"] == EMAIL_USER
    admin_page = f"{hub.url}/hub/admin"
    assert SESSIONS[ADMIN].get(admin_page, timeout=REQUEST_TIMEOUT).status_code == 200
    assert SESSIONS[STUDENT].get(admin_page, timeout=REQUEST_TIMEOUT).status_code == 403
    _, refused = login(hub, STRANGER)
    assert refused.status_code == 403


def test_notebooks_land_in_private_homes(hub):
    for username in (EMAIL_USER, STUDENT):
        with stage(f"start {username}'s server"):
            server = start_server(hub, SESSIONS[username], username)
        save_notebook(SESSIONS[username], server, "e2e.ipynb")
        uid = uid_of(hub, ACCOUNTS[username])
        assert owner_and_mode(hub, HOMES[username]) == (uid, "700")
        assert owner_and_mode(hub, f"{HOMES[username]}/e2e.ipynb")[0] == uid
        OWNERS[username] = uid
    assert OWNERS[EMAIL_USER] != OWNERS[STUDENT]
    # Each home is closed to the other user.
    peek = hub.run("ls", HOMES[EMAIL_USER], user=ACCOUNTS[STUDENT])
    assert peek.returncode != 0 and "Permission denied" in peek.stderr


def test_an_account_the_image_has_is_not_handed_out(hub):
    session, callback = login(hub, IMAGE_ACCOUNT)
    assert callback.status_code == 302, callback.text
    session.get(f"{hub.url}/hub/spawn", timeout=REQUEST_TIMEOUT)
    pending = f"{hub.url}/hub/spawn-pending/{IMAGE_ACCOUNT}"

    def refused():
        page = html.unescape(session.get(pending, timeout=REQUEST_TIMEOUT).text)
        return "Spawn failed" in page and "Unix account 'ubuntu'" in page

    wait_for(refused, SERVER_START_SECONDS, f"the spawn page at {pending} to show the refusal")
    # The image's own account is untouched: still uid 1000, nothing of the hub's in its home.
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


def test_a_new_container_on_the_same_volumes_keeps_everything(hub, provider):
    hub.stop()
    with stage("restart hub container"):
        hub.start()
    # The login session survives: the cookie secret and database are on the data volume.
    home = SESSIONS[STUDENT].get(f"{hub.url}/hub/home", allow_redirects=False, timeout=10)
    assert home.status_code == 200, "the restart logged the student out"
    # So does each name's binding to its identity: another account with the name is refused.
    provider.add_user("impostor", preferred_username=EMAIL_USER)
    _, impostor = login(hub, "impostor")
    assert impostor.status_code == 403
    # Both servers start at once; accounts come back, each with the uid that owns its files.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda name: start_server(hub, SESSIONS[name], name), (STUDENT, EMAIL_USER)))
    for username in (STUDENT, EMAIL_USER):
        assert uid_of(hub, ACCOUNTS[username]) == OWNERS[username]
        assert owner_and_mode(hub, f"{HOMES[username]}/e2e.ipynb")[0] == OWNERS[username]
        assert owner_and_mode(hub, HOMES[username]) == (OWNERS[username], "700")
    assert not re.search(r"\] 5\d\d [A-Z]+ ", hub.logs()), "the hub answered a request with 5xx"


def test_someone_taken_off_the_list_is_out_at_the_next_start(hub):
    student = SESSIONS[STUDENT]
    student.get(f"{hub.url}/hub/home", timeout=REQUEST_TIMEOUT)
    xsrf = next(cookie.value for cookie in student.cookies if cookie.name == "_xsrf")
    made = student.post(
        f"{hub.url}/hub/api/users/{STUDENT}/tokens",
        headers={"X-XSRFToken": xsrf},
        timeout=REQUEST_TIMEOUT,
    )
    assert made.status_code == 201, made.text
    token = {"Authorization": f"token {made.json()['token']}"}
    assert requests.get(f"{hub.url}/hub/api/user", headers=token, timeout=10).ok
    hub.stop()
    # The operator takes the student off allowedUsers; the deployment runs the new list.
    remaining = [name for name in STACK["allowedUsers"] if name != STUDENT]
    hub.extra_env["ALLOWED_USERS"] = json.dumps(remaining)
    with stage("restart hub container without the student"):
        hub.start()
    home = SESSIONS[EMAIL_USER].get(f"{hub.url}/hub/home", allow_redirects=False, timeout=10)
    assert home.status_code == 200, "a listed user was logged out"
    kept_out = student.get(f"{hub.url}/hub/home", allow_redirects=False, timeout=10)
    assert kept_out.status_code == 302 and "/hub/login" in kept_out.headers["location"]
    assert requests.get(f"{hub.url}/hub/api/user", headers=token, timeout=10).status_code == 403
    # The student's record and server are gone: the admin's API no longer knows them.
    admin = SESSIONS[ADMIN]
    admin.get(f"{hub.url}/hub/home", timeout=REQUEST_TIMEOUT)
    xsrf = next(cookie.value for cookie in admin.cookies if cookie.name == "_xsrf")
    record = admin.get(
        f"{hub.url}/hub/api/users/{STUDENT}", headers={"X-XSRFToken": xsrf}, timeout=10
    )
    assert record.status_code == 404, record.text
    server = student.get(f"{hub.url}/user/{STUDENT}/lab", allow_redirects=False, timeout=10)
    assert server.status_code == 302 and "/hub/" in server.headers["location"]
    # Their files stay on /home, for an operator to keep or delete.
    assert owner_and_mode(hub, f"{HOMES[STUDENT]}/e2e.ipynb")[0] == OWNERS[STUDENT]


def test_a_users_only_change_uploads_no_layer(pushed, registry, base_image, docker_config):
    before = len(blob_uploads(registry.log_path))
    newcomers = [*STACK["allowedUsers"], "newcomer@uni.nl"]
    changed = build_and_push(registry, base_image, docker_config, allowedUsers=newcomers)
    assert changed.name != pushed.name, "a users-only change must get a new tag"
    uploads = blob_uploads(registry.log_path)[before:]
    digests = [parse_qs(urlparse(upload.path).query)["digest"][0] for upload in uploads]
    assert digests == [changed.config_digest], "only the new image config may be uploaded"
    assert inspect_image(changed.name)["RootFS"] == inspect_image(pushed.digest_ref)["RootFS"]
