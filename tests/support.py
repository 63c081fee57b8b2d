"""Helpers for every test folder: free ports, waiting with a deadline, logging in."""

import os

import pytest
import requests

# One place for each; the tests import them from here.
from local.hub_container import free_port  # noqa: F401
from local.polling import wait_for  # noqa: F401

REQUEST_TIMEOUT = 10


def cannot_run(reason: str) -> None:
    """A test that cannot run here: in CI (CI=true) that fails the run; elsewhere it is skipped."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"cannot run in CI: {reason}")
    pytest.skip(reason)


def login(hub, sub: str) -> tuple[requests.Session, requests.Response]:
    """Log in at `hub.url` as provider user `sub`; return the session and the hub's callback answer.

    Stops there: after the callback the hub redirects to /hub/spawn, which would start a server.
    """
    session = requests.Session()
    to_provider = session.get(
        f"{hub.url}/hub/oauth_login", allow_redirects=False, timeout=REQUEST_TIMEOUT
    )
    assert to_provider.status_code == 302, to_provider.text
    # The provider's login form: choosing a subject answers with a redirect to the hub.
    back = session.post(
        to_provider.headers["location"],
        data={"sub": sub},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    assert back.status_code == 302, back.text
    assert back.headers["location"].startswith(f"{hub.url}/hub/oauth_callback?")
    callback = session.get(back.headers["location"], allow_redirects=False, timeout=REQUEST_TIMEOUT)
    return session, callback
