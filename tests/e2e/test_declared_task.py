"""End to end: the hub container started exactly as the declared ECS task says, logged in to, used.

The program runs under mocks with hubDomain set (ECR standing in as the local registry); its
images are built and pushed; local/declared_task.py runs the declared task with docker, each
user's server a container from the pushed user image. The Cognito-like provider holds the hub to
the declared app client (id, secret, callback and sign-out URLs, scopes) and gives the declared
Cognito users their attributes: a mismatch between client and task fails the login.
"""

import html
import secrets
import subprocess
import uuid
from typing import NamedTuple

import pytest
import requests

from local.declared_task import DeclaredTask
from local.docker_cli import docker
from local.image import Pushed, build, push
from local.polling import wait_for
from local.program import Declared, HubMocks, run_program
from tests.e2e.conftest import stage
from tests.e2e.test_hub_image import EMAIL_USER_LABEL, api, container, start_server
from tests.support import REQUEST_TIMEOUT, login
from users.names import home_directory_for

pytestmark = pytest.mark.e2e

ADMIN = "admin@example.org"
# The user taken off the lists and put back.
INVITED = "jane.doe@uni.nl"
STACK = {
    "hubDomain": "hub.example.org",
    "hostedZoneId": "Z0123456789ABC",
    "adminUsers": [ADMIN],
    "allowedUsers": [INVITED],
}
APP_CLIENT = "aws:cognito/userPoolClient:UserPoolClient"
COGNITO_USER = "aws:cognito/user:User"
TARGET_GROUP = "aws:lb/targetGroup:TargetGroup"
SERVICE = "aws:ecs/service:Service"
# As long as the service's grace period (health_check_grace_period_seconds).
HEALTHY_SECONDS = 120
# The hub re-reads the lists every 30 s (its default, as the task sets none): two rounds and some.
LISTS_SECONDS = 90


class Deployed(NamedTuple):
    declared: Declared
    pushed: dict[str, Pushed]
    # What "AWS" reported for each resource, by (type, name): the app client's id and secret.
    states: dict[tuple[str, str], dict]


class RecordingMocks(HubMocks):
    """The mocks, keeping what "AWS" reported for each resource: the app client's id and secret."""

    def __init__(self, **settings):
        super().__init__(**settings)
        self.states: dict[tuple[str, str], dict] = {}

    def new_resource(self, args):
        resource_id, state = super().new_resource(args)
        self.states[(args.typ, args.name)] = {"id": resource_id, **state}
        return resource_id, state


@pytest.fixture(scope="module")
def deploy(registry, base_image, docker_config):
    """Run the program with this stack, build and push its images: what "AWS" holds afterwards."""
    names = []

    def run(what: str, **stack) -> Deployed:
        mocks = RecordingMocks(
            registry_host=registry.address, token_user_name="AWS", token_password=registry.password
        )
        declared = run_program({**STACK, **stack}, stack="e2e", mocks=mocks)
        pushed = {}
        for image in ("hub", "user"):
            with stage(f"build the {image} image {what}"):
                build(declared, base_image, image=image)
            with stage(f"push the {image} image {what}"):
                pushed[image] = push(declared, docker_config, image=image)
            names.append(pushed[image].name)
        return Deployed(declared, pushed, mocks.states)

    yield run
    # The images named after this run's registry go with it; the build cache stays.
    subprocess.run(["docker", "rmi", "--force", "--no-prune", *set(names)], capture_output=True)


@pytest.fixture
def start_task(provider, docker_config, s3):
    """Start the declared task from a program run; each one a new container on the same volumes."""
    started = []
    name = f"e2e-task-{secrets.token_hex(4)}"

    def start(what: str, deployed: Deployed) -> DeclaredTask:
        task = DeclaredTask(
            deployed.declared, deployed.pushed, provider.url, name, docker_config, s3=s3
        )
        started.append(task)
        register_app_client(provider, deployed, task)
        # `pulumi up` writes the lists and servers objects before the service starts the task.
        task.publish_objects(deployed.declared)
        with stage(f"start the declared task {what}"):
            task.start()
            wait_until_healthy(task, deployed.declared)
        return task

    yield start
    for task in started:
        task.stop()
    if started:
        started[-1].remove()


def register_app_client(provider, deployed: Deployed, task: DeclaredTask) -> None:
    """The declared app client, as Cognito would hold it: its id and secret as AWS made them."""
    client = deployed.declared.resource(APP_CLIENT).inputs
    made = deployed.states[(APP_CLIENT, "hub")]
    # The hub is reached on loopback, so its callback and sign-out URLs are too (as in the task).
    callback_urls = [task.local_url(url) for url in client["callbackUrls"]]
    logout_urls = [task.local_url(url) for url in client.get("logoutUrls", [])]
    provider.add_client(
        made["id"], made["clientSecret"], callback_urls, client["allowedOauthScopes"], logout_urls
    )


def invited(provider, declared, username: str, sub: str | None = None) -> str:
    """Give the provider the declared Cognito user: its attributes as claims, and a sub."""
    [user] = [
        resource
        for resource in declared.resources
        if resource.type == COGNITO_USER and resource.inputs["username"] == username
    ]
    # Cognito makes a new sub (a UUID) for each user it creates; userInfo names its username.
    claims = user.inputs["attributes"] | {"username": user.inputs["username"]}
    return provider.add_user(sub or str(uuid.uuid4()), **claims)


def wait_until_healthy(task: DeclaredTask, declared) -> None:
    """Poll the declared target group's health check on the declared container port."""
    health = declared.resource(TARGET_GROUP).inputs["healthCheck"]
    [balanced] = declared.resource(SERVICE).inputs["loadBalancers"]
    assert health["port"] == "traffic-port" and int(balanced["containerPort"]) == task.port
    url = f"http://127.0.0.1:{task.port}{health['path']}"

    def healthy() -> bool:
        task.check_running()
        try:
            answer = requests.get(url, allow_redirects=False, timeout=REQUEST_TIMEOUT)
        except requests.ConnectionError:
            return False
        return matches(health["matcher"], answer.status_code)

    wait_for(healthy, HEALTHY_SECONDS, f"{task.name}: {health['matcher']} from {url}")


def matches(matcher: str, status: int) -> bool:
    """A target group's success codes: "200", "200,202" or "200-299"."""
    for codes in matcher.split(","):
        low, _, high = codes.partition("-")
        if int(low) <= status <= int(high or low):
            return True
    return False


def log_in(task: DeclaredTask, sub: str, username: str, what: str) -> requests.Session:
    with stage(f"log in {username} {what}"):
        session, callback = login(task, sub)
    assert callback.status_code == 302, f"{username}: {callback.status_code} {callback.text}"
    return session


def test_the_declared_task_serves_an_invited_user(deploy, start_task, provider):
    deployed = deploy("for an invited user")
    task = start_task("for an invited user", deployed)
    sub = invited(provider, deployed.declared, INVITED)
    session = log_in(task, sub, INVITED, "to the declared task")
    # On its own subdomain, as the declared task sets USER_SUBDOMAINS.
    port = task.url.rsplit(":", 1)[1]
    server = f"http://{EMAIL_USER_LABEL}.localhost:{port}/user/{INVITED}"
    with stage(f"start {INVITED}'s server"):
        start_server(task, session, INVITED, server)
    # A container of its own, from the pushed user image, as the user's own uid.
    [running] = task.servers(INVITED)
    config = container(running).attrs["Config"]
    assert config["Image"] == task.pushed_user.digest_ref
    uid = config["User"].split(":")[0]
    assert int(uid) >= 1000
    home = home_directory_for(INVITED)
    # Theirs alone, and on the declared volume (the mount it lies on), not in the container.
    [volume_path] = [path for path in task.mounts.values() if home.startswith(f"{path}/")]
    stat = task.run("stat", "--format", "%u %a %m", home)
    assert stat.returncode == 0, stat.stderr
    assert stat.stdout.split() == [uid, "700", volume_path]


def container_id(task: DeclaredTask) -> str:
    return docker("inspect", "--format", "{{.Id}}", task.name).strip()


def test_a_name_taken_off_and_put_back_gets_in_with_its_new_identity(deploy, start_task, provider):
    listed = deploy("with the user listed")
    task = start_task("with the user listed", listed)
    running = container_id(task)
    admin = log_in(task, invited(provider, listed.declared, ADMIN), ADMIN, "before the removal")
    log_in(task, invited(provider, listed.declared, INVITED), INVITED, "before the removal")
    # The Cognito user made when they are put back: same attributes, a new sub.
    new_sub = str(uuid.uuid4())
    invited(provider, listed.declared, INVITED, sub=new_sub)
    # While the name is bound to the first identity, the new one is refused.
    _, refused = login(task, new_sub)
    assert refused.status_code == 403 and "already bound" in html.unescape(refused.text)

    # A users-only change: no new image (nor task); `pulumi up` rewrites the lists object only.
    without = deploy("without the user", allowedUsers=[])
    assert without.pushed["hub"].digest_ref == listed.pushed["hub"].digest_ref
    task.publish_objects(without.declared)
    with stage("the running hub removes the user"):
        wait_for(
            lambda: api(admin, task, "GET", f"/users/{INVITED}").status_code == 404,
            LISTS_SECONDS,
            f"the hub to remove {INVITED} after the lists object changed",
        )
    assert api(admin, task, "GET", f"/users/{ADMIN}").status_code == 200

    task.publish_objects(deploy("with the user put back").declared)
    with stage("the running hub lets the user back in"):
        wait_for(
            lambda: login(task, new_sub)[1].status_code == 302,
            LISTS_SECONDS,
            f"{INVITED}'s new identity to get in after the lists object changed",
        )
    session = log_in(task, new_sub, INVITED, "with a new sub")
    assert api(session, task, "GET", "/user").json()["name"] == INVITED
    # All of it without a restart: the same container throughout.
    task.check_running()
    assert container_id(task) == running
