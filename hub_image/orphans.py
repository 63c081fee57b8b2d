"""A hub service: stop the servers' tasks that the hub has no record of.

A task outlives the hub on purpose; one the hub no longer knows (its hub crashed while starting
it, or its user was deleted while the hub was down) would run, and cost, for ever. Every
`--interval` seconds this compares the engine's tasks (found by their tags) with the servers in
the hub's database, through the hub's REST API, and stops the rest. A spawn in progress is left
alone: its task is not in the database until it starts.

    python -m hub_image.orphans --interval 300     (the hub runs it, as JUPYTERHUB_SERVICE_NAME)
"""

import argparse
import contextlib
import logging
import os
import time

import requests

from hub_image.servers import engine_from

log = logging.getLogger("orphans")


def hub_records(api_url: str, token: str) -> tuple[set[str], set[str]]:
    """The task ids the hub's database holds, and the users whose server is starting."""
    known, starting = set(), set()
    offset = 0
    while True:
        answer = requests.get(
            f"{api_url}/users",
            params={"offset": offset, "limit": 200},
            headers={
                "Authorization": f"token {token}",
                "Accept": "application/jupyterhub-pagination+json",
            },
            timeout=30,
        )
        answer.raise_for_status()
        page = answer.json()
        for user in page["items"]:
            for server in user.get("servers", {}).values():
                if server.get("pending") == "spawn":
                    starting.add(user["name"])
                if task_id := (server.get("state") or {}).get("task_id"):
                    known.add(task_id)
        offset += len(page["items"])
        if not page["items"] or offset >= page["_pagination"]["total"]:
            return known, starting


def stop_orphans(engine, api_url: str, token: str) -> list[str]:
    """Stop each task the hub has no record of; the ids stopped."""
    tasks = engine.tasks()
    known, starting = hub_records(api_url, token)
    stopped = []
    for task in tasks:
        if task.id in known or task.username in starting:
            continue
        log.warning("Stopping %s's task %s: the hub has no record of it", task.username, task.id)
        engine.stop(task.id, "Stopped by the hub: no record of this server")
        stopped.append(task.id)
    return stopped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=int, default=300, help="seconds between rounds")
    interval = parser.parse_args().interval
    logging.basicConfig(
        level=logging.INFO, format="[%(levelname)s %(asctime)s orphans] %(message)s"
    )
    engine = engine_from(os.environ)
    api_url, token = os.environ["JUPYTERHUB_API_URL"], os.environ["JUPYTERHUB_API_TOKEN"]
    while True:
        try:
            stop_orphans(engine, api_url, token)
        except Exception:  # noqa: BLE001 (the next round tries again)
            log.exception("Could not look for orphaned servers")
        time.sleep(interval)


if __name__ == "__main__":
    # The hub stops its services with SIGINT, as it stops: nothing to say then.
    with contextlib.suppress(KeyboardInterrupt):
        main()
