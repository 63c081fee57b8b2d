"""Each user's server in a task (or container) of its own, which outlives the hub.

The spawner speaks to one engine (hub_image/servers.py): ECS on AWS, the local Docker engine
here. It keeps the task's id in the hub's database, so a restarted hub finds each server again
(`poll`) and puts its route back; the server keeps running meanwhile. Each server runs the user
image as its user's uid, with only their home, at a size they may pick.
"""

import asyncio
import functools
import os
import time

from jinja2 import Environment
from jupyterhub.spawner import Spawner
from tornado import web
from traitlets import Float, Integer, Unicode, default

from hub_image.homes import ensure_home
from hub_image.servers import (
    PENDING,
    PROVISIONING,
    PULLING,
    RUNNING,
    SERVER_PORT,
    STARTING,
    STOPPED,
    EngineError,
    Server,
    ServerEngine,
    engine_from,
)
from hub_image.user_servers import S3UserServers, UserServers, from_environment

# What the spawn page says at each of the task's states, and how far along it shows it.
PROGRESS = {
    PROVISIONING: (20, "Finding room for your server (provisioning)"),
    PENDING: (40, "Your server's task is pending"),
    PULLING: (60, "Pulling the user image"),
    STARTING: (80, "Starting your server"),
    RUNNING: (90, "Your server is running; waiting for it to answer"),
}
# The kernels' sockets and connection files: on the server's own disk, private to its user.
RUNTIME_DIR = "/tmp/jupyter-runtime"  # noqa: S108 (in the user's own container)
# Kernels talk over Unix sockets in the runtime directory, not TCP: on the command line, which
# no configuration file of the user's can override.
KERNELS_OVER_IPC = ["--KernelManager.transport=ipc"]

_FORM = Environment(autoescape=True).from_string(
    """<p>Pick the size of your server:</p>
{% for size in sizes %}<div class="radio"><label><input type="radio" name="size" \
value="{{ size.name }}"{% if loop.first %} checked{% endif %}> {{ size.label() }}</label></div>
{% endfor %}"""
)


class SpawnRefused(web.HTTPError):
    """A start the hub refuses itself, before asking the engine: the spawn page says why."""

    def __init__(self, message: str):
        super().__init__(403, message.replace("%", "%%"))
        self.jupyterhub_message = message


def engine() -> ServerEngine:
    """The hub's engine, as the environment names it (the config asks first, at start)."""
    return _engine_for(_settings("SERVERS_"))


def _settings(*prefixes: str) -> tuple:
    return tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(prefixes)))


@functools.cache
def _engine_for(settings: tuple) -> ServerEngine:
    # One per settings: the same object for every spawner of the hub.
    return engine_from(dict(settings))


class _FixedUserServers:
    """The user image and sizes the environment gives, the same at every start."""

    def __init__(self, user_servers: UserServers):
        self._user_servers = user_servers

    def current(self) -> UserServers:
        return self._user_servers


def user_servers():
    """What servers run: USER_SERVERS_URL's object (read again at each start), else the
    environment's USER_IMAGE and SERVER_SIZES; current() gives them."""
    return _user_servers_for(_settings("USER_SERVERS_URL", "USER_IMAGE", "SERVER_SIZES"))


@functools.cache
def _user_servers_for(settings: tuple):
    environ = dict(settings)
    url = environ.get("USER_SERVERS_URL", "").strip()
    return S3UserServers(url) if url else _FixedUserServers(from_environment(environ))


class TaskSpawner(Spawner):
    homes = Unicode("/home", help="Users' homes, as the hub mounts them").tag(config=True)
    start_within = Integer(
        600,
        help="Seconds a task may take to run (provisioning, pulling the image) before it stops",
    ).tag(config=True)
    check_seconds = Float(2.0, help="Seconds between looks at a starting task").tag(config=True)

    # The task or container the server runs in, kept in the hub's database.
    task_id = Unicode("")

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        # The spawn page's events; its stream may begin before start() does.
        self._events: list[dict] = []
        self._event_added = asyncio.Event()

    @default("ip")
    def _ip(self):
        # The server listens on its own task's address: every interface of its own.
        return "0.0.0.0"  # noqa: S104

    @default("port")
    def _port(self):
        return SERVER_PORT

    @default("cmd")
    def _cmd(self):
        return ["jupyterhub-singleuser"]

    @default("options_form")
    def _options_form(self):
        return self._sizes_form

    @default("start_timeout")
    def _start_timeout(self):
        # Longer than start_within, so the spawn page shows this spawner's own message.
        return self.start_within + 60

    @default("http_timeout")
    def _http_timeout(self):
        # A new server imports JupyterLab before it answers: seconds on a small Fargate size.
        return 120

    # The hub's database

    def load_state(self, state):
        super().load_state(state)
        self.task_id = state.get("task_id", "")

    def get_state(self):
        state = super().get_state()
        if self.task_id:
            state["task_id"] = self.task_id
        return state

    def clear_state(self):
        super().clear_state()
        self.task_id = ""

    # Sizes

    def _allowed_sizes(self):
        groups = {group.name for group in self.user.groups}
        return user_servers().current().sizes_for(groups)

    async def _sizes_form(self, spawner) -> str:
        """The spawn page's menu of sizes; none with a single size to pick."""
        sizes = await asyncio.to_thread(self._allowed_sizes)
        return _FORM.render(sizes=sizes) if len(sizes) > 1 else ""

    def options_from_form(self, formdata):
        return {"size": formdata.get("size", [""])[0]}

    def _size(self, servers):
        allowed = servers.sizes_for({group.name for group in self.user.groups})
        if not allowed:
            raise SpawnRefused(
                f"no server size is open to {self.user.name}'s groups; an admin can add one"
            )
        wanted = (self.user_options or {}).get("size") or allowed[0].name
        for size in allowed:
            if size.name == wanted:
                return size
        raise SpawnRefused(f"the size {wanted!r} is not one {self.user.name} may pick")

    # The server

    def get_args(self):
        return [*KERNELS_OVER_IPC, *super().get_args()]

    async def start(self):
        servers = await asyncio.to_thread(user_servers().current)
        size = self._size(servers)
        # The identity that logged in with this name owns its home (see authenticator.py).
        owner = (self.user.user_info or {}).get("sub")
        home = await asyncio.to_thread(ensure_home, self.user.name, owner, self.homes)
        env = self.get_env() | {
            "HOME": f"/home/{home.name}",
            "USER": home.account,
            "SHELL": "/bin/bash",
            "JUPYTER_RUNTIME_DIR": RUNTIME_DIR,
        }
        server = Server(
            username=self.user.name,
            account=home.account,
            home=home.name,
            uid=home.uid,
            image=servers.image,
            cpu=size.cpu,
            memory=size.memory,
            environment=env,
            command=[*self.cmd, *self.get_args()],
        )
        self._events.clear()
        self.task_id = await asyncio.to_thread(engine().start, server)
        self.log.info("Started %s's server (%s) as %s", self.user.name, size.name, self.task_id)
        return await self._running(size)

    async def _running(self, size):
        """Wait for the task to run with an address; its states go to the spawn page."""
        deadline = time.monotonic() + self.start_within
        shown = None
        while True:
            task = await asyncio.to_thread(engine().describe, self.task_id)
            if task.state != shown and task.state in PROGRESS:
                progress, message = PROGRESS[task.state]
                self._report(progress, f"{message} ({size.label()})")
                shown = task.state
            if task.state == RUNNING and task.address:
                return task.address, SERVER_PORT
            if task.state == STOPPED:
                raise EngineError(
                    "Your server's task stopped before it was ready: "
                    f"{task.reason or 'the engine gave no reason'}"
                )
            if time.monotonic() > deadline:
                await asyncio.to_thread(engine().stop, self.task_id, "did not start in time")
                raise EngineError(
                    f"Your server did not start within {self.start_within // 60} minutes (it was "
                    f"still {task.state}); start it again, and if it happens again tell an admin"
                )
            await asyncio.sleep(self.check_seconds)

    def _report(self, progress: int, message: str) -> None:
        self._events.append({"progress": progress, "message": message})
        self._event_added.set()

    async def progress(self):
        """The task's states as they come, for the spawn page (JupyterHub ends the stream)."""
        shown = 0
        while True:
            # Cleared before the events are read: one added meanwhile sets it again.
            self._event_added.clear()
            while shown < len(self._events):
                yield self._events[shown]
                shown += 1
            await self._event_added.wait()

    async def poll(self):
        if not self.task_id:
            return 0
        try:
            task = await asyncio.to_thread(engine().describe, self.task_id)
        except Exception as error:  # noqa: BLE001 (an engine that does not answer stops nothing)
            self.log.warning("Could not ask about %s's server: %s", self.user.name, error)
            return None
        return 0 if task.state == STOPPED else None

    async def stop(self, now=False):
        if self.task_id:
            reason = f"Stopped by the hub: {self.user.name}'s server"
            await asyncio.to_thread(engine().stop, self.task_id, reason)
            self.log.info("Stopped %s's server (%s)", self.user.name, self.task_id)
