"""The benchmark: what a users-only change, a restart, a login and a user's server cost.

Uses the end-to-end setup: the program under mocks (AWS only is replaced), the Docker engine, a
registry that wants a password, the test identity provider, all on loopback; for a fresh CI
runner, a second engine with an empty data root (local/fresh_engine.py); for the live user lists,
moto's S3 on loopback standing in for S3. Progress and raw
figures go to stderr; the machine and one markdown table go to stdout.

    python -m benchmarks BASE_IMAGE        (what `make bench` runs)
"""

import json
import os
import platform
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import requests
import yaml

from hub_image.user_lists import S3Lists
from local.aws_stand_in import REGION, running_s3
from local.declared_task import LISTS_OBJECT, TASK_DEFINITION
from local.docker_cli import (
    buildkit_builder,
    docker,
    engine_problem,
    environment,
    inspect_image,
)
from local.fresh_engine import push_base_image, running_engine, up_images
from local.hub_container import HubContainer, free_port
from local.identity_provider import running_provider
from local.image import build, push
from local.polling import wait_for
from local.program import IMAGE, Declared, HubMocks, copy_project, run_program
from local.registry import (
    blob_pulls,
    blob_size,
    blob_uploads,
    image_blobs,
    manifest_bytes,
    manifest_pushes,
    running_registry,
    uploaded_digest,
)
from stack_settings import CONFIG_CEILING_BYTES, config_bytes

STACK = "bench"
CONFIG = {"adminUsers": ["admin@example.org"], "allowedUsers": ["jane.doe@example.org"]}
RUNS = 5
# Each fresh-runner run pulls the whole previous image into a brand-new engine: fewer runs.
FRESH_RUNS = 3
SEQUENTIAL_LOGINS = 50
CONCURRENT_LOGINS = 20
REQUEST_SECONDS = 10
READY_SECONDS = 120
LOG_SECONDS = 10
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
# Where the base image (official or stand-in) keeps jupyterhub and what we pip-install next to it.
SITE_PACKAGES = "/srv/venv/lib/python3*/site-packages"
# The Dockerfile's package step, as the image history names it.
PIP_STEP = "pip install --no-cache-dir --requirement /srv/hub/requirements.txt"
# Live lists: the hub reads them from an S3 object (moto on loopback) every REFRESH_SECONDS, the
# hub's default (jupyterhub_config.py), left as it is: each run waits up to that long, so fewer.
LISTS_BUCKET = "bench-lists"
LISTS_KEY = "user-lists.json"
REFRESH_SECONDS = 30
LIVE_RUNS = 3
LOGIN_POLL_SECONDS = 0.1
# A big course: 2,000 typical names, on AWS (hubDomain set), where the lists go to S3.
MANY_NAMES = 2000
ON_AWS = CONFIG | {"hubDomain": "hub.example.org", "hostedZoneId": "Z0123456789ABC"}
MANY_RUNS = 3
CONCURRENT_SERVERS = 10


def default_setting(name: str):
    """A stack setting's default, as Pulumi.yaml declares it."""
    project = yaml.safe_load((Path(__file__).parent.parent / "Pulumi.yaml").read_text())
    return project["config"][name]["default"]


def say(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def size(n: float) -> str:
    """Bytes as docker shows them (SI units)."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:.0f} B"


def median(values: list[float]) -> float:
    return statistics.median(values)


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18]


def no_change(mocks: HubMocks) -> dict:
    """Figure 2: the same config, run again, declares the same image inputs (so no rebuild)."""
    seconds, inputs = [], []
    for run in range(RUNS + 1):
        started = time.monotonic()
        declared = run_program(CONFIG, stack=STACK, mocks=mocks)
        seconds.append(time.monotonic() - started)
        inputs.append(declared.resource(IMAGE).inputs)
        say(f"no change, run {run}: program {seconds[-1]:.2f} s")
    # The first run in this process pays the imports, as every `pulumi up` does.
    return {
        "first": seconds[0],
        "median": median(seconds[1:]),
        "identical": all(each == inputs[0] for each in inputs),
        "runs": len(inputs),
    }


def users_only_change(
    registry, mocks: HubMocks, base_image: str, docker_config: Path, images: list[str]
) -> dict:
    """Figure 1: add one user, rebuild and push; count what the registry received.

    Each build's name is appended to `images`, for the caller to remove.
    """
    run_id = secrets.token_hex(3)

    def rebuild_and_push(newcomer: str) -> dict:
        config = {**CONFIG, "allowedUsers": [*CONFIG["allowedUsers"], newcomer]}
        declared = run_program(config, stack=STACK, mocks=mocks)
        uploads_before = len(blob_uploads(registry.log_path))
        manifests_before = len(manifest_pushes(registry.log_path))
        started = time.monotonic()
        images.append(build(declared, base_image))
        pushed = push(declared, docker_config)
        seconds = time.monotonic() - started
        # The registry logs a request once it has answered it; wait for the manifest's line.
        wait_for(
            lambda: len(manifest_pushes(registry.log_path)) > manifests_before,
            LOG_SECONDS,
            "manifest PUT in the registry's log",
        )
        uploads = blob_uploads(registry.log_path)[uploads_before:]
        digests = [parse_qs(urlparse(upload.path).query)["digest"][0] for upload in uploads]
        repository, tag = pushed.name.split("/", 1)[1].rsplit(":", 1)
        manifest = registry_get(registry, f"{repository}/manifests/{tag}")
        return {
            "seconds": seconds,
            "uploaded": sum(blob_bytes(registry, repository, d) for d in digests)
            + len(manifest.content),
            "layers": sum(d != pushed.config_digest for d in digests),
            "config": blob_bytes(registry, repository, pushed.config_digest),
            "manifest": len(manifest.content),
            "image": pushed.name,
        }

    say("users-only change: warm-up build and push (first time on this machine: minutes)")
    warm_up = rebuild_and_push(f"bench-{run_id}-0@example.org")
    runs = []
    for run in range(1, RUNS + 1):
        runs.append(rebuild_and_push(f"bench-{run_id}-{run}@example.org"))
        r = runs[-1]
        say(
            f"users-only change, run {run}: {r['seconds']:.2f} s, uploaded {r['uploaded']} B "
            f"({r['layers']} layer blobs; config {r['config']} B + manifest {r['manifest']} B)"
        )
    return {
        "seconds": median([r["seconds"] for r in runs]),
        "uploaded": median([r["uploaded"] for r in runs]),
        "layers": max(r["layers"] for r in runs),
        "config": median([r["config"] for r in runs]),
        "manifest": median([r["manifest"] for r in runs]),
        "reference": median([r["config"] + r["manifest"] for r in runs]),
        "warm_up_seconds": warm_up["seconds"],
        "image": runs[-1]["image"],
    }


def fresh_runner(
    registry, mocks: HubMocks, base_image: str, docker_config: Path, images: list[str], workdir
) -> dict:
    """Figure 1 on a fresh CI runner: an empty Docker data root, the previous image in the registry.

    The previous image goes to the registry as `pulumi up` leaves it (content tag and build-cache),
    built on this engine FROM the base in the registry. Then, each on a brand-new engine, a
    users-only change and a hub-code change run `pulumi up`'s image steps; each moves build-cache,
    as CI does. Names left on this engine are appended to `images`, for the caller to remove.
    """
    say("fresh runner: the base image to the registry (a runner pulls it from one)")
    base = push_base_image(base_image, registry, docker_config)
    images.append(base)
    base_blobs = blob_set(registry, *repository_and_tag(base))
    say("fresh runner: the previous image and its build-cache tag, from this engine")
    declared = run_program(CONFIG, stack=STACK, mocks=mocks)
    previous = {}
    for image in ("hub", "hub-build-cache"):
        images.append(build(declared, base, image=image))
        previous[image] = push(declared, docker_config, image=image)
    _, previous_layers = image_blobs(registry, *repository_and_tag(previous["hub"].name))
    [pip_layer] = [layer for layer in previous_layers if PIP_STEP in layer.created_by]
    run_id = secrets.token_hex(3)

    def users_only_change(run: int) -> Declared:
        newcomer = f"fresh-{run_id}-{run}@example.org"
        config = {**CONFIG, "allowedUsers": [*CONFIG["allowedUsers"], newcomer]}
        return run_program(config, stack=STACK, mocks=mocks)

    def hub_code_change(run: int) -> Declared:
        # The users of the last users-only run, so that only the code differs from build-cache.
        newcomer = f"fresh-{run_id}-{FRESH_RUNS}@example.org"
        config = {**CONFIG, "allowedUsers": [*CONFIG["allowedUsers"], newcomer]}
        root = copy_project(workdir / f"project-{run_id}-{run}")
        hub_config = root / "hub_image" / "jupyterhub_config.py"
        hub_config.write_text(hub_config.read_text() + f"# Benchmark change {run_id}-{run}.\n")
        return run_program(config, stack=STACK, mocks=mocks, project_root=root)

    # One history, as CI makes it: users-only changes first (each on the last one's image), then
    # hub-code changes (each changing the last one's code); each run moves build-cache.
    runs = {"users": [], "code": []}
    for case, change in (("users", users_only_change), ("code", hub_code_change)):
        for run in range(1, FRESH_RUNS + 1):
            r = fresh_up(registry, change(run), base, docker_config, base_blobs, pip_layer)
            runs[case].append(r)
            say(
                f"fresh runner, {case} change, run {run}: {r['seconds']:.1f} s (cache pull "
                f"{r['pull cache']:.1f} s, build {r['build']:.1f} s, push {r['push']:.1f} s); "
                f"pulled {size(r['pulled'])} + base {size(r['pulled_base'])}; pushed "
                f"{r['pushed']} B, {r['layers']} layer blobs ({r['layer_bytes']} B); "
                f"package layer reused: {r['pip_reused']}"
            )
    return {
        case: {
            **{
                key: median([r[key] for r in results])
                for key in ("seconds", "pull cache", "build", "push", "pulled", "pulled_base")
                + ("pushed", "layer_bytes")
            },
            "layers": max(r["layers"] for r in results),
            "pip_reused": all(r["pip_reused"] for r in results),
            "pip_bytes": pip_layer.size,
        }
        for case, results in runs.items()
    }


def fresh_up(
    registry, declared: Declared, base: str, docker_config: Path, base_blobs: set, pip_layer
) -> dict:
    """`pulumi up`'s image steps (both tags) on a brand-new engine; what it cost and moved."""
    log = registry.log_path
    pulls_before, uploads_before = len(blob_pulls(log)), len(blob_uploads(log))
    manifests_before = len(manifest_pushes(log))
    # Its start is not counted: a runner's engine is up before the job starts.
    with running_engine() as engine, engine.in_use(docker_config):
        done = up_images(declared, base, docker_config)
    # The registry logs a request once it has answered it; both tags' manifests come last.
    wait_for(
        lambda: len(manifest_pushes(log)) >= manifests_before + 2,
        LOG_SECONDS,
        "both manifest PUTs in the registry's log",
    )
    pulls = blob_pulls(log)[pulls_before:]
    uploads = [uploaded_digest(upload) for upload in blob_uploads(log)[uploads_before:]]
    repository, tag = repository_and_tag(done.pushed["hub"].name)
    configs = {pushed.config_digest for pushed in done.pushed.values()}
    layers = [digest for digest in uploads if digest not in configs]
    _, new_layers = image_blobs(registry, repository, tag)
    return {
        "seconds": sum(done.seconds.values()),
        **done.seconds,
        "pulled": sum(pull.bytes for pull in pulls if pull.digest not in base_blobs),
        "pulled_base": sum(pull.bytes for pull in pulls if pull.digest in base_blobs),
        "pushed": sum(blob_size(registry, repository, digest) for digest in uploads)
        + sum(len(manifest_bytes(registry, repository, ref)) for ref in (tag, "build-cache")),
        "layers": len(layers),
        "layer_bytes": sum(blob_size(registry, repository, digest) for digest in layers),
        "pip_reused": pip_layer in new_layers and pip_layer.digest not in uploads,
    }


def repository_and_tag(name: str) -> tuple[str, str]:
    """registry/repository:tag, split into the registry API's repository name and the tag."""
    repository, tag = name.split("/", 1)[1].rsplit(":", 1)
    return repository, tag


def blob_set(registry, repository: str, tag: str) -> set[str]:
    """The digests of an image's config and layers."""
    config_digest, layers = image_blobs(registry, repository, tag)
    return {config_digest, *(layer.digest for layer in layers)}


def registry_get(registry, path: str, head: bool = False) -> requests.Response:
    answer = requests.request(
        "HEAD" if head else "GET",
        f"http://{registry.address}/v2/{path}",
        auth=(registry.username, registry.password),
        headers={"Accept": MANIFEST_TYPE},
        timeout=REQUEST_SECONDS,
    )
    answer.raise_for_status()
    return answer


def blob_bytes(registry, repository: str, digest: str) -> int:
    """A blob's size as the registry stores it."""
    answer = registry_get(registry, f"{repository}/blobs/{digest}", head=True)
    return int(answer.headers["Content-Length"])


def cold_start(images: dict[str, str], base_image: str, provider_url: str) -> dict:
    """Figure 3: `docker run` to the first 200 from /hub/health, ours vs the bare base image."""
    ours, restarts, base = [], [], []
    for run in range(1, RUNS + 1):
        base.append(base_image_start(base_image))
        # Fresh volumes: an empty database, like the base image's; then a restart on them.
        with fresh_hub(images, provider_url) as hub:
            ours.append(hub.start(READY_SECONDS))
            hub.stop()
            restarts.append(hub.start(READY_SECONDS))
        say(
            f"cold start, run {run}: ours {ours[-1]:.2f} s (restart {restarts[-1]:.2f} s), "
            f"base {base[-1]:.2f} s"
        )
    # Each run starts both back to back, so the ratio of each pair cancels drift in machine load.
    ratios = [mine / theirs for mine, theirs in zip(ours, base, strict=True)]
    return {
        "ours": median(ours),
        "restart": median(restarts),
        "base": median(base),
        "ratio": median(ratios),
    }


def base_image_start(base_image: str) -> float:
    """The base image running `jupyterhub` with no config, on free loopback ports."""
    name = f"serverless-hub-bench-base-{secrets.token_hex(4)}"
    url = f"http://127.0.0.1:{free_port()}"
    ports = [
        f"--JupyterHub.bind_url={url}",
        f"--JupyterHub.hub_bind_url=http://127.0.0.1:{free_port()}",
        f"--ConfigurableHTTPProxy.api_url=http://127.0.0.1:{free_port()}",
    ]
    started = time.monotonic()
    docker("run", "--detach", "--name", name, "--network", "host", base_image, "jupyterhub", *ports)
    try:
        # The same checks, in the same order, as HubContainer.start, so both pay the same polling.
        wait_for(lambda: container_healthy(name, url), READY_SECONDS, f"{url}/hub/health ({name})")
        return time.monotonic() - started
    finally:
        subprocess.run(["docker", "rm", "--force", name], capture_output=True)


def container_healthy(name: str, url: str) -> bool:
    if docker("inspect", "--format", "{{.State.Running}}", name).strip() != "true":
        raise RuntimeError(f"{name} exited:\n{docker('logs', name)}")
    try:
        return requests.get(f"{url}/hub/health", timeout=2).ok
    except requests.ConnectionError:
        return False


@contextmanager
def fresh_hub(images: dict[str, str], provider_url: str, env: dict | None = None):
    """A hub container with homes and data of its own; it, its servers and data go afterwards."""
    homes = Path(tempfile.mkdtemp(prefix="bench-homes-"))
    hub = HubContainer(
        images["hub"], images["user"], provider_url, homes, f"bench-data-{secrets.token_hex(4)}",
        env=env,
    )  # fmt: skip
    try:
        yield hub
    finally:
        hub.stop()
        hub.remove_servers()
        subprocess.run(["docker", "volume", "rm", "--force", hub.data_volume], capture_output=True)
        shutil.rmtree(homes, ignore_errors=True)


def logins(images: dict[str, str], provider) -> dict:
    """Figure 4: full OAuth round trips by distinct users, one by one and then all at once."""
    run_id = secrets.token_hex(3)
    users = [
        f"login-{run_id}-{n}@example.org" for n in range(SEQUENTIAL_LOGINS + CONCURRENT_LOGINS)
    ]
    for user in users:
        provider.add_user(user, username=user)
    with fresh_hub(images, provider.url, env={"ALLOWED_USERS": ",".join(users)}) as hub:
        hub.start(READY_SECONDS)
        say(f"login: {SEQUENTIAL_LOGINS} users one by one")
        sequential = [timed_login(hub.url, user) for user in users[:SEQUENTIAL_LOGINS]]
        say(f"login: {CONCURRENT_LOGINS} users at once")
        started = time.monotonic()
        with ThreadPoolExecutor(CONCURRENT_LOGINS) as pool:
            at_once = list(
                pool.map(lambda user: timed_login(hub.url, user), users[SEQUENTIAL_LOGINS:])
            )
        all_done = time.monotonic() - started
    for name, results in (("one by one", sequential), ("at once", at_once)):
        say(f"login {name} (s): {' '.join(f'{seconds:.3f}' for seconds, _ in results)}")
        steps = [median(step) for step in zip(*(steps for _, steps in results), strict=True)]
        say(
            f"login {name}, median ms per request: oauth_login {steps[0] * 1e3:.0f}, "
            f"provider {steps[1] * 1e3:.0f}, callback {steps[2] * 1e3:.0f}, "
            f"home {steps[3] * 1e3:.0f}"
        )
    say(f"login: all {CONCURRENT_LOGINS} at once done in {all_done:.2f} s")
    sequential = [seconds for seconds, _ in sequential]
    at_once = [seconds for seconds, _ in at_once]
    return {
        "median": median(sequential),
        "p95": p95(sequential),
        "at_once_median": median(at_once),
        "at_once_p95": p95(at_once),
        "at_once_all": all_done,
    }


def timed_login(hub_url: str, user: str) -> tuple[float, list[float]]:
    """Hub → provider → callback → /hub/home answering 200, as a browser does it.

    Returns the login's seconds, end to end, and each of its four requests' (to their headers).
    """
    session = requests.Session()
    started = time.monotonic()
    to_provider, back, callback = oauth_steps(session, hub_url, user)
    expect(callback, 302)
    home = expect(
        session.get(f"{hub_url}/hub/home", allow_redirects=False, timeout=REQUEST_SECONDS), 200
    )
    seconds = time.monotonic() - started
    return seconds, [
        answer.elapsed.total_seconds() for answer in (to_provider, back, callback, home)
    ]


def oauth_steps(session: requests.Session, hub_url: str, user: str) -> list[requests.Response]:
    """Hub → provider → the hub's OAuth callback; the callback's answer is the caller's to judge."""
    to_provider = expect(
        session.get(f"{hub_url}/hub/oauth_login", allow_redirects=False, timeout=REQUEST_SECONDS),
        302,
    )
    # The provider's login form: choosing a subject redirects back to the hub's callback.
    back = expect(
        session.post(
            to_provider.headers["location"],
            data={"sub": user},
            allow_redirects=False,
            timeout=REQUEST_SECONDS,
        ),
        302,
    )
    callback = session.get(back.headers["location"], allow_redirects=False, timeout=REQUEST_SECONDS)
    return [to_provider, back, callback]


def live_lists(images: dict[str, str], provider, s3) -> dict:
    """Figure 6: a running hub reads its lists from an S3 object; a new object adds a user. The
    time from the write to that user's first login (the OAuth callback's 302), and the hub's PID
    before and after."""
    run_id = secrets.token_hex(3)
    admin = f"live-{run_id}-admin@example.org"
    newcomers = [f"live-{run_id}-{run}@example.org" for run in range(1, LIVE_RUNS + 1)]
    for user in [admin, *newcomers]:
        provider.add_user(user, username=user)
    key = f"live-{run_id}/{LISTS_KEY}"
    put_lists(s3, key, {"adminUsers": [admin], "allowedUsers": []})
    env = {"USER_LISTS_URL": f"s3://{LISTS_BUCKET}/{key}", **s3.environment()}
    seconds = []
    with fresh_hub(images, provider.url, env=env) as hub:
        hub.start(READY_SECONDS)
        pid = hub_pid(hub)
        # Each write follows a refresh closely (the hub's start, or the last newcomer's login,
        # which a refresh let in): each run waits nearly a whole interval, the worst case.
        for run, newcomer in enumerate(newcomers, start=1):
            if logs_in(hub.url, newcomer):
                raise RuntimeError(f"{newcomer} got in before being added")
            put_lists(s3, key, {"adminUsers": [admin], "allowedUsers": newcomers[:run]})
            started = time.monotonic()
            wait_for(
                lambda: logs_in(hub.url, newcomer),  # noqa: B023
                REFRESH_SECONDS + 30,
                f"{newcomer}'s first login after the object was written",
                LOGIN_POLL_SECONDS,
            )
            seconds.append(time.monotonic() - started)
            say(f"live lists, run {run}: object write to first login {seconds[-1]:.1f} s")
        same_pid = hub_pid(hub)
        starts = hub.logs().count("JupyterHub is now running")
    say(f"live lists: hub PID {pid} before, {same_pid} after; started {starts} time(s)")
    return {
        "median": median(seconds),
        "max": max(seconds),
        "runs": len(seconds),
        "same_process": same_pid == pid and starts == 1,
        "pid": pid,
    }


def servers(images: dict[str, str], provider) -> dict:
    """Figure 7: each user's server a container of its own (the default size), from the spawn
    request to the server answering through the hub's proxy: one user at a time, then ten at
    once. Then a hub restart with the ten running, a kernel in each: the kernels after it, and
    the time from the hub's start until every server answers through it again."""
    run_id = secrets.token_hex(3)
    # The first spawn of a hub makes the servers' network: a warm-up, not counted.
    one = [f"server-{run_id}-{n}@example.org" for n in range(RUNS + 1)]
    ten = [f"servers-{run_id}-{n}@example.org" for n in range(CONCURRENT_SERVERS)]
    for user in [*one, *ten]:
        provider.add_user(user, username=user)
    with fresh_hub(images, provider.url, env={"ALLOWED_USERS": ",".join([*one, *ten])}) as hub:
        hub.start(READY_SECONDS)
        sessions = {user: logged_in(hub.url, user) for user in [*one, *ten]}
        say(f"servers: {RUNS} spawns one at a time (and a warm-up)")
        one_at_a_time = [spawn(hub.url, sessions[user], user) for user in one][1:]
        say(f"servers: {CONCURRENT_SERVERS} spawns at once")
        with ThreadPoolExecutor(CONCURRENT_SERVERS) as pool:
            at_once = list(pool.map(lambda user: spawn(hub.url, sessions[user], user), ten))
        kernels = {user: start_kernel(hub.url, sessions[user], user) for user in ten}
        containers = {user: hub.servers(user) for user in ten}
        # What the hub's task must hold: the hub and its proxy, with every server running.
        running = len(hub.servers())
        hub_memory = docker("stats", "--no-stream", "--format", "{{.MemUsage}}", hub.name)
        hub_memory = hub_memory.split("/")[0].strip()
        hub.stop()
        started = time.monotonic()
        health = hub.start(READY_SECONDS)
        wait_for(
            lambda: all(kernel_answers(hub.url, sessions[u], u, kernels[u]) for u in ten),
            READY_SECONDS,
            f"all {CONCURRENT_SERVERS} servers' kernels through the restarted hub",
            LOGIN_POLL_SECONDS,
        )
        routes = time.monotonic() - started
        same = sum(hub.servers(user) == containers[user] for user in ten)
    say(f"servers, one at a time (s): {' '.join(f'{x:.2f}' for x in one_at_a_time)}")
    say(f"servers, {CONCURRENT_SERVERS} at once (s): {' '.join(f'{x:.2f}' for x in at_once)}")
    say(
        f"servers: restart with {CONCURRENT_SERVERS} running: health {health:.2f} s, every "
        f"server answering {routes:.2f} s; {same} of {len(ten)} the same containers; the hub "
        f"container's memory with {running} servers running: {hub_memory}"
    )
    return {
        "one_median": median(one_at_a_time),
        "one_p95": p95(one_at_a_time),
        "at_once_median": median(at_once),
        "at_once_p95": p95(at_once),
        "health": health,
        "routes": routes,
        "kernels": len(kernels),
        "same": same,
        "running": running,
        "hub_memory": hub_memory,
    }


def logged_in(hub_url: str, user: str) -> requests.Session:
    session = requests.Session()
    expect(oauth_steps(session, hub_url, user)[-1], 302)
    return session


def hub_api(session: requests.Session, hub_url: str, method: str, path: str) -> requests.Response:
    """The hub's REST API as its pages call it: the session's cookie and the hub's XSRF token."""
    session.get(f"{hub_url}/hub/home", timeout=REQUEST_SECONDS)
    [xsrf] = [c.value for c in session.cookies if c.name == "_xsrf" and c.path == "/hub/"]
    # A spawn request waits up to the hub's slow_spawn_timeout (10 s) for the server.
    return session.request(
        method, f"{hub_url}/hub/api{path}", headers={"X-XSRFToken": xsrf}, timeout=READY_SECONDS
    )


def spawn(hub_url: str, session: requests.Session, user: str) -> float:
    """Seconds from the spawn request to the server answering through the hub's proxy."""
    started = time.monotonic()
    asked = hub_api(session, hub_url, "POST", f"/users/{user}/server")
    # 201 if the server was up within the hub's slow-spawn wait, 202 if it is still starting.
    if asked.status_code not in (201, 202):
        raise RuntimeError(f"{user}'s spawn: {asked.status_code} {asked.text}")

    def answers() -> bool:
        # The server's own /api answers anyone; until it runs, the hub answers in its place.
        answer = requests.get(
            f"{hub_url}/user/{user}/api", allow_redirects=False, timeout=REQUEST_SECONDS
        )
        return answer.status_code == 200 and "version" in answer.json()

    wait_for(answers, READY_SECONDS, f"{user}'s server through the proxy", LOGIN_POLL_SECONDS)
    return time.monotonic() - started


def start_kernel(hub_url: str, session: requests.Session, user: str) -> str:
    """A kernel in the user's server, started as JupyterLab starts one (after its page's login)."""
    server = f"{hub_url}/user/{user}"
    expect(session.get(f"{server}/lab", timeout=REQUEST_SECONDS), 200)
    [xsrf] = [c.value for c in session.cookies if c.name == "_xsrf" and c.path == f"/user/{user}/"]
    started = session.post(
        f"{server}/api/kernels",
        json={"name": "python3"},
        headers={"X-XSRFToken": xsrf},
        timeout=READY_SECONDS,
    )
    return expect(started, 201).json()["id"]


def kernel_answers(hub_url: str, session: requests.Session, user: str, kernel: str) -> bool:
    try:
        answer = session.get(f"{hub_url}/user/{user}/api/kernels/{kernel}", timeout=REQUEST_SECONDS)
    except requests.ConnectionError:
        return False
    return answer.status_code == 200 and answer.json()["id"] == kernel


def put_lists(s3, key: str, lists: dict) -> None:
    """Write the lists' object as the program declares it (four keys, indented, sorted)."""
    lists = {"adminGroups": [], "allowedGroups": [], **lists}
    put_object(s3, key, json.dumps(lists, indent=1, sort_keys=True))


def put_object(s3, key: str, content: str) -> None:
    s3.client().put_object(Bucket=LISTS_BUCKET, Key=key, Body=content.encode())


def hub_pid(hub: HubContainer) -> int:
    """The host PID of the container's jupyterhub process (tini is the container's first)."""
    listing = docker("top", hub.name, "-eo", "pid,args").splitlines()[1:]
    [pid] = [line.split(None, 1)[0] for line in listing if "bin/jupyterhub " in line]
    return int(pid)


def logs_in(hub_url: str, user: str) -> bool:
    """Whether a login gets through the OAuth callback (302; a user not in the lists gets 403)."""
    return oauth_steps(requests.Session(), hub_url, user)[-1].status_code == 302


def many_names(mocks: HubMocks, s3) -> dict:
    """Figure 6 with 2,000 names, on AWS: the program's run time, what the lists take in S3 and in
    the CLI's config, whether the preview warns; a users-only change declares the same image and
    task definition; and what the hub's refresh costs for a changed 2,000-name object."""
    names = [f"firstname{n}.lastname{n}@university.example.org" for n in range(1, MANY_NAMES + 1)]
    seconds, runs = [], []
    for run in range(MANY_RUNS):
        # Each run a users-only change of the last: one more name.
        config = {**ON_AWS, "allowedUsers": names[: MANY_NAMES - MANY_RUNS + 1 + run]}
        started = time.monotonic()
        runs.append(run_program(config, stack=STACK, mocks=mocks))
        seconds.append(time.monotonic() - started)
        say(
            f"2,000 names, run {run}: program {seconds[-1]:.2f} s, "
            f"{len(config['allowedUsers'])} allowed users"
        )
    # The last run has all the names.
    declared = runs[-1]
    content = declared_content(declared)
    lists = {key: json.loads(content)[key] for key in ("adminUsers", "allowedUsers")}
    lists |= {"adminGroups": [], "allowedGroups": []}
    warnings = [w for w in declared.warnings if "Pulumi CLI can hand the program" in w]
    for warning in warnings:
        say(f"2,000 names: the preview warns: {warning}")
    same = {
        type_: all(r.resource(type_).inputs == runs[0].resource(type_).inputs for r in runs)
        for type_ in (IMAGE, TASK_DEFINITION)
    }
    objects_differ = len({declared_content(r) for r in runs}) == len(runs)
    say(f"2,000 names: same declared inputs over {len(runs)} users-only changes: {same}")
    return {
        "program": median(seconds),
        "object_bytes": len(content.encode()),
        "config_bytes": config_bytes(lists),
        "warns": bool(warnings),
        "same_image": same[IMAGE],
        "same_task": same[TASK_DEFINITION],
        "objects_differ": objects_differ,
        "refresh": refresh_cost(s3, content),
    }


def declared_content(declared: Declared) -> str:
    return declared.resource(LISTS_OBJECT).inputs["content"]


def refresh_cost(s3, content: str) -> float:
    """One refresh's read + parse + check of a changed 2,000-name object, with the hub's own
    S3Lists in this process against moto (the hub logs no line that times its refresh)."""
    key = f"many-{secrets.token_hex(3)}/{LISTS_KEY}"
    put_object(s3, key, content)
    with environment(s3.environment()):
        lists_object = S3Lists(f"s3://{LISTS_BUCKET}/{key}")
        lists_object.read()
        seconds = []
        for run in range(1, RUNS + 1):
            changed = json.loads(content)
            changed["allowedUsers"].append(f"newcomer{run}@university.example.org")
            put_object(s3, key, json.dumps(changed, indent=1, sort_keys=True))
            started = time.monotonic()
            if not lists_object.read():
                raise RuntimeError("the changed object read as unchanged")
            seconds.append(time.monotonic() - started)
            count = len(lists_object.lists.allowed_users)
            say(f"2,000 names, refresh {run}: {seconds[-1] * 1e3:.0f} ms ({count} allowed users)")
    return median(seconds)


def expect(answer: requests.Response, status: int) -> requests.Response:
    if answer.status_code != status:
        raise RuntimeError(
            f"{answer.request.method} {answer.url}: {answer.status_code}, not {status}"
        )
    return answer


def image_size(image: str, base_image: str) -> dict:
    """Figure 5: our image's size, what it adds over the base, and the largest additions."""
    ours, base = inspect_image(image)["Size"], inspect_image(base_image)["Size"]
    history = docker(
        "history", "--no-trunc", "--human=false", "--format", "{{.Size}}\t{{.CreatedBy}}", image
    )
    base_rows = len(docker("history", "--quiet", base_image).splitlines())
    rows = [line.split("\t", 1) for line in history.splitlines()]
    # Newest first: the rows above the base's are our Dockerfile's instructions.
    added_layers = sorted(
        ((int(size), " ".join(created.split())) for size, created in rows[:-base_rows]),
        reverse=True,
    )
    packages = {
        name: kilobytes - base_packages.get(name, 0)
        for base_packages in [site_packages(base_image)]
        for name, kilobytes in site_packages(image).items()
    }
    largest_packages = sorted(((k, n) for n, k in packages.items() if k > 0), reverse=True)
    for bytes_, created in added_layers[:3]:
        say(f"image: layer {size(bytes_)}: {created[:150]}")
    say(
        "image: largest packages added: "
        + ", ".join(f"{n} {size(k * 1e3)}" for k, n in largest_packages[:12])
    )
    return {
        "ours": ours,
        "base": base,
        "layers": [(b, c) for b, c in added_layers if b > 0],
        "packages": largest_packages[:8],
    }


def site_packages(image: str) -> dict[str, int]:
    """Kilobytes per top-level entry of the venv's site-packages in this image."""
    listing = docker("run", "--rm", "--entrypoint", "sh", image, "-c", f"du -sk {SITE_PACKAGES}/*")
    return {
        Path(path).name: int(kilobytes)
        for kilobytes, path in (line.split("\t", 1) for line in listing.splitlines())
    }


def machine(base_image: str) -> str:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next(
        (line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")),
        platform.processor(),
    )
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    engine = docker("version", "--format", "{{.Server.Version}}").strip()
    base_id = inspect_image(base_image)["Id"].removeprefix("sha256:")[:12]
    return (
        f"{cpu}, {os.cpu_count()} cores, {memory / 2**30:.0f} GiB, Linux {platform.release()}, "
        f"Docker engine {engine} (BuildKit: `{buildkit_builder()}`), "
        f"base image `{base_image}` ({base_id})"
    )


def table(
    machine_line: str,
    f1: dict,
    fresh: dict,
    f2: dict,
    f3: dict,
    f4: dict,
    f5: dict,
    live: dict,
    many: dict,
    f7: dict,
) -> str:
    def met(ok: bool) -> str:
        return "met" if ok else "**not met**"

    def yes(ok: bool) -> str:
        return "yes" if ok else "NO"

    def fresh_time(r: dict) -> str:
        return (
            f"{r['seconds']:.1f} s, median of {FRESH_RUNS} (cache image pull {r['pull cache']:.1f}"
            f" s, build {r['build']:.1f} s, push of both tags {r['push']:.1f} s)"
        )

    def fresh_pulled(r: dict) -> str:
        return f"pulled {size(r['pulled'])} + base {size(r['pulled_base'])}"

    at_limit = f1["layers"] == 0 and f1["uploaded"] <= f1["reference"]
    added = f5["ours"] - f5["base"]
    users, code = fresh["users"], fresh["code"]
    pip = f"package layer {size(users['pip_bytes'])}"
    rows = [
        ("figure", "measured", "reference, same run", "goal"),
        ("---", "---", "---", "---"),
        (
            "1. users-only change: rebuild + push",
            f"{f1['seconds']:.2f} s (warm cache)",
            f"first build + push of the run, every layer: {f1['warm_up_seconds']:.1f} s",
            f"under 2 s: {met(f1['seconds'] < 2)}",
        ),
        (
            "1. users-only change: bytes uploaded",
            f"{f1['uploaded']:,.0f} B, {f1['layers']} layer blobs",
            f"config {f1['config']:,.0f} B + manifest {f1['manifest']:,.0f} B "
            f"= {f1['reference']:,.0f} B",
            f"no layer, at the limit: {met(at_limit)}",
        ),
        (
            "1. users-only change, fresh runner: build + push",
            fresh_time(users),
            f"warm runner (above): {f1['seconds']:.2f} s",
            "report",
        ),
        (
            "1. users-only change, fresh runner: bytes",
            f"{fresh_pulled(users)}; pushed {users['pushed']:,.0f} B, "
            f"{users['layers']} layer blobs",
            f"warm runner: pushed {f1['uploaded']:,.0f} B, {f1['layers']} layer blobs",
            f"no layer pushed: {met(users['layers'] == 0)}",
        ),
        (
            "1. hub-code change, fresh runner: build + push",
            fresh_time(code),
            "",
            "report",
        ),
        (
            "1. hub-code change, fresh runner: bytes",
            f"{fresh_pulled(code)}; pushed {size(code['pushed'])}, {code['layers']} layer blob "
            f"({size(code['layer_bytes'])}: the code)",
            f"{pip}: {'reused, not pushed' if code['pip_reused'] else '**pushed again**'}",
            f"only the code layer pushed: {met(code['layers'] == 1 and code['pip_reused'])}",
        ),
        (
            "2. no change: the program under mocks",
            f"{f2['median']:.2f} s (first in the process, with imports: {f2['first']:.2f} s)",
            f"image inputs identical in {f2['runs']} runs: {'yes' if f2['identical'] else 'NO'}",
            f"no rebuild: {met(f2['identical'])}",
        ),
        (
            "3. cold start to /hub/health 200",
            f"ours {f3['ours']:.2f} s (restart on the same volumes {f3['restart']:.2f} s)",
            f"base image, empty config: {f3['base']:.2f} s",
            f"ratio {f3['ratio']:.2f} (median of paired runs), "
            f"at most 1.2: {met(f3['ratio'] <= 1.2)}",
        ),
        (
            f"4. login, {SEQUENTIAL_LOGINS} users one by one",
            f"median {f4['median'] * 1e3:.0f} ms, p95 {f4['p95'] * 1e3:.0f} ms",
            "",
            "report",
        ),
        (
            f"4. login, {CONCURRENT_LOGINS} users at once",
            f"median {f4['at_once_median'] * 1e3:.0f} ms, p95 {f4['at_once_p95'] * 1e3:.0f} ms",
            f"all {CONCURRENT_LOGINS} done in {f4['at_once_all']:.2f} s",
            "report",
        ),
        (
            "5. image size",
            f"ours {size(f5['ours'])}, adds {size(added)}",
            f"base {size(f5['base'])}",
            "small",
        ),
        (
            "6. live lists: object write to first login",
            f"{live['median']:.1f} s, median of {live['runs']} (slowest {live['max']:.1f} s)",
            f"refresh interval (the default): {REFRESH_SECONDS} s",
            f"within the interval + a second: {met(live['max'] <= REFRESH_SECONDS + 1)}",
        ),
        (
            f"6. live lists, {MANY_NAMES:,} names: the program under mocks (hubDomain set)",
            f"{many['program']:.2f} s",
            f"few names (2. above): {f2['median']:.2f} s",
            "report",
        ),
        (
            f"6. live lists, {MANY_NAMES:,} names: sizes",
            f"S3 object {many['object_bytes']:,} B; config {many['config_bytes']:,} B",
            f"the CLI's config ceiling: {CONFIG_CEILING_BYTES:,} B; the preview "
            f"{'warns' if many['warns'] else 'does not warn'}",
            f"under the ceiling: {met(many['config_bytes'] < CONFIG_CEILING_BYTES)}",
        ),
        (
            f"6. live lists, {MANY_NAMES:,} names: the hub's refresh of a changed object",
            f"{many['refresh'] * 1e3:.0f} ms (read + parse + check, in-process)",
            f"refresh interval: {REFRESH_SECONDS} s",
            "report",
        ),
        (
            "6. live lists: users-only change, nothing rebuilt or restarted",
            f"image inputs same: {yes(many['same_image'])}; task definition same: "
            f"{yes(many['same_task'])}; hub PID same: {yes(live['same_process'])}",
            f"lists object changed in each run: {yes(many['objects_differ'])}",
            f"no rebuild, no restart: "
            f"{met(many['same_image'] and many['same_task'] and live['same_process'])}",
        ),
        (
            "7. a user's server: spawn request to answering through the hub",
            f"one at a time: median {f7['one_median']:.2f} s, p95 {f7['one_p95']:.2f} s",
            f"{CONCURRENT_SERVERS} at once: median {f7['at_once_median']:.2f} s, "
            f"p95 {f7['at_once_p95']:.2f} s",
            "report",
        ),
        (
            f"7. hub restart with {CONCURRENT_SERVERS} servers running",
            f"kernels alive after it: {f7['same']} of {f7['kernels']} servers the same "
            f"containers, every kernel answering",
            f"health {f7['health']:.2f} s after the start; every server through the hub "
            f"{f7['routes']:.2f} s",
            f"no server or kernel ended: {met(f7['same'] == f7['kernels'])}",
        ),
        (
            "7. the hub container's memory (hub and proxy)",
            f"{f7['hub_memory']} with {f7['running']} servers running",
            f"the hub task's default memory (taskMemory): {default_setting('taskMemory')} MiB",
            "report",
        ),
    ]
    lines = [f"Machine: {machine_line}", f"Medians of {RUNS} runs unless said.", ""]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    lines += ["", "Largest additions over the base image:"]
    lines += [f"- layer {size(b)}: `{created[:120]}`" for b, created in f5["layers"][:3]]
    lines += ["- packages: " + ", ".join(f"{n} {size(k * 1e3)}" for k, n in f5["packages"])]
    lines += [
        "",
        "Fresh runner: a brand-new engine per run (its start not counted), the provider's pull of "
        "build-cache, the build FROM the base in the registry, the push of both tags. Pulled: "
        "blob bytes the registry sent (its access log), the base's blobs apart. Pushed: the "
        "uploaded blobs' sizes plus both manifests.",
        "",
        f"Live lists: a hub container reads its lists from an S3 object (moto on loopback) every "
        f"{REFRESH_SECONDS} s; each run writes a new object adding one user and polls logins every "
        f"{LOGIN_POLL_SECONDS} s. {MANY_NAMES:,} names: `firstname<n>.lastname<n>@university."
        f"example.org`, medians of {MANY_RUNS} program runs (each a users-only change) and of "
        f"{RUNS} refreshes; the refresh is timed with the hub's own S3Lists in this process (the "
        "hub logs no line that times it).",
        "",
        f"Servers: each a container on this machine's engine from the user image, the default "
        f"size; a spawn is timed from the hub API's request to the server's /api answering "
        f"through the hub's proxy (polled every {LOGIN_POLL_SECONDS} s); p95 of "
        f"{RUNS} and of {CONCURRENT_SERVERS} values. On AWS each is a Fargate task, whose "
        "start (image pull, network interface, EFS mount) takes longer.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    problem = engine_problem()
    if problem:
        sys.exit(f"The benchmark needs a running Docker engine: {problem} (local/start_docker.sh)")
    if len(sys.argv) != 2 or not sys.argv[1]:
        sys.exit("usage: python -m benchmarks BASE_IMAGE   (`make bench` chooses it)")
    base_image = sys.argv[1]
    started = time.monotonic()
    # Only the table goes to stdout: everything else (ours, the registry's, apt's) goes to stderr.
    sys.stdout.flush()
    table_out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-")))
        password = secrets.token_urlsafe(24)
        registry = stack.enter_context(
            running_registry(free_port(), password, workdir / "storage", workdir / "access.log")
        )
        provider = stack.enter_context(running_provider(free_port(), workdir / "provider.log"))
        s3 = stack.enter_context(running_s3(free_port(), workdir / "moto.log"))
        s3.client().create_bucket(
            Bucket=LISTS_BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        mocks = HubMocks(registry_host=registry.address, token_password=password)
        # A throw-away docker client config: the registry login never lands in ~/.docker.
        docker_config = workdir / "docker-config"
        docker_config.mkdir()
        images: list[str] = []
        # Untag what was built but keep the build cache (--no-prune): the next run is warm too.
        stack.callback(
            lambda: (
                images
                and subprocess.run(["docker", "rmi", "--no-prune", *images], capture_output=True)
            )
        )

        f2 = no_change(mocks)
        f1 = users_only_change(registry, mocks, base_image, docker_config, images)
        fresh = fresh_runner(registry, mocks, base_image, docker_config, images, workdir)
        say("the user image (first time on this machine: minutes)")
        user_image = build(run_program(CONFIG, stack=STACK, mocks=mocks), base_image, image="user")
        images.append(user_image)
        hub_images = {"hub": f1["image"], "user": user_image}
        f3 = cold_start(hub_images, base_image, provider.url)
        f4 = logins(hub_images, provider)
        f5 = image_size(f1["image"], base_image)
        live = live_lists(hub_images, provider, s3)
        many = many_names(mocks, s3)
        f7 = servers(hub_images, provider)
        machine_line = machine(base_image)
    say(f"done in {time.monotonic() - started:.0f} s")
    table_out.write(table(machine_line, f1, fresh, f2, f3, f4, f5, live, many, f7))
    table_out.flush()


if __name__ == "__main__":
    main()
