"""The try-out: the hub with the dev stack's users on this machine, no AWS account needed.

Builds the hub and user images exactly as `pulumi up` on the dev stack would (the program runs
under mocks), starts the test identity provider with the dev stack's users, starts the hub at
http://localhost:8000 with each user's server in a container of its own, on its own subdomain
(http://<user>.localhost:8000/, which browsers take to this machine), and prints where to go and
who can log in. Ctrl-C stops the hub and the servers; users' files stay in HOMES for next time,
the hub's database in a Docker volume.

    python -m local.try BASE_IMAGE      (what `make try` runs)
"""

import os
import signal
import sys
import tempfile
from pathlib import Path

from local.docker_cli import engine_problem
from local.hub_container import HubContainer
from local.identity_provider import running_provider
from local.image import build
from local.program import run_program, stack_config

STACK = "dev"
HUB_PORT = 8000
PROVIDER_PORT = 9400
# Someone the provider knows but the hub does not let in, to show the refusal.
STRANGER = "stranger@example.org"
# Users' homes: a directory here, since each user's server mounts its own part of it; it stays,
# with the users' files, for the next try-out.
HOMES = Path(
    os.environ.get("XDG_DATA_HOME") or Path.home() / ".local/share", "serverless-hub-try/home"
)
DATA_VOLUME = "serverless-hub-try-data"
# As on AWS, each user's server on its own origin; browsers take *.localhost to this machine.
SUBDOMAINS = {"USER_SUBDOMAINS": "true", "PUBLIC_URL": f"http://localhost:{HUB_PORT}"}


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def main() -> None:
    problem = engine_problem()
    if problem:
        sys.exit(f"The try-out needs a running Docker engine: {problem}")
    base_image = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None
    say(f"Running the program for the {STACK} stack (AWS replaced by mocks)")
    declared = run_program(stack_config(STACK), stack=STACK)
    admins = declared.outputs["adminUsers"].value
    allowed = declared.outputs["allowedUsers"].value
    tag = declared.outputs["imageName"].value.rsplit(":", 1)[1]
    user_tag = declared.outputs["userImageName"].value.rsplit(":", 1)[1]
    say(f"Building the images FROM {base_image or 'the official image'} (first time: minutes)")
    image = build(declared, base_image, name=f"serverless-hub-try:{tag}")
    user_image = build(
        declared, base_image, name=f"serverless-hub-try-user:{user_tag}", image="user"
    )
    users = {name: {"username": name, "email": name} for name in [*admins, *allowed]}
    users[STRANGER] = {"username": STRANGER, "email": STRANGER}
    log = Path(tempfile.gettempdir(), "serverless-hub-try-provider.log")
    say(f"Starting the test identity provider on http://127.0.0.1:{PROVIDER_PORT}")
    with running_provider(PROVIDER_PORT, log, users) as provider:
        hub = HubContainer(
            image,
            user_image,
            provider.url,
            HOMES,
            DATA_VOLUME,
            port=HUB_PORT,
            host="localhost",
            env=SUBDOMAINS,
        )
        # The hub's app client, held (as Cognito holds it) to its callback and sign-out URLs.
        provider.add_client(
            hub.client_id,
            hub.client_secret,
            [f"{hub.url}/hub/oauth_callback"],
            ["openid", "profile", "email"],
            logout_urls=[f"{hub.url}/hub/login"],
        )
        say(f"Starting the hub ({image})")
        try:
            hub.start()
            print(
                f"\nThe hub is at {hub.url}  (Ctrl-C stops it)\n"
                f"Choose a user on the provider's login page:\n"
                f"  admins:        {', '.join(admins)}\n"
                f"  allowed users: {', '.join(allowed) or '(none)'}\n"
                f"  refused (403): {STRANGER}\n"
                f"Each user's server is at http://<user>.localhost:{HUB_PORT}/ (Chrome and "
                "Firefox take *.localhost to this machine)\n",
                flush=True,
            )
            signal.signal(signal.SIGTERM, signal.default_int_handler)
            signal.pause()
        except KeyboardInterrupt:
            pass
        finally:
            # A second Ctrl-C must not leave the container running.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            say("Stopping the hub and the users' servers")
            hub.stop()
            hub.remove_servers()
            say(f"Stopped. Users' files stay in {HOMES}, the hub's database in {DATA_VOLUME}")


if __name__ == "__main__":
    main()
