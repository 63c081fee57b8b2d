"""With an https public URL, the hub's cookies are Secure and its answers carry HSTS, although it
sees plain http behind the load balancer. A real hub; the test stands where the load balancer
does: plain http to the hub's proxy with `X-Forwarded-Proto: https` (to which the proxy appends
`,http`, as on AWS).
"""

import pytest
from requests.adapters import HTTPAdapter

from tests.hub_image.conftest import start_hub
from tests.support import REQUEST_TIMEOUT, browser, free_port

HSTS = "Strict-Transport-Security"


@pytest.fixture(scope="module", params=[False, True], ids=["one origin", "user subdomains"])
def hub(provider, tmp_path_factory, request):
    port = free_port()
    public_url = f"https://localhost:{port}"
    hub = start_hub(
        provider,
        tmp_path_factory.mktemp("https-hub"),
        port=port,
        host="localhost",
        PUBLIC_URL=public_url,
        OAUTH_CALLBACK_URL=f"{public_url}/hub/oauth_callback",
        USER_SUBDOMAINS=str(request.param).lower(),
        ADMIN_USERS="admin1",
        ALLOWED_USERS="tls",
    )
    hub.public_url = public_url
    hub.subdomains = request.param
    yield hub
    hub.stop()


class LoadBalancer(HTTPAdapter):
    """Takes the browser's https:// requests and forwards them as plain http, as AWS's does."""

    def send(self, request, **kwargs):
        forwarded = request.copy()
        forwarded.url = "http://" + request.url.removeprefix("https://")
        forwarded.headers["X-Forwarded-Proto"] = "https"
        response = super().send(forwarded, **kwargs)
        response.url, response.request = request.url, request
        return response


def behind_the_load_balancer(hub):
    """A browser that speaks https to the hub's public URL, as a real one would."""
    session = browser()
    session.mount(hub.public_url, LoadBalancer())
    return session


def set_cookies(response) -> dict[str, str]:
    headers = response.raw.headers.getlist("Set-Cookie")
    return {header.split("=", 1)[0]: header.lower() for header in headers}


def test_cookies_are_secure_and_answers_carry_hsts(provider, hub):
    provider.add_user("sub-tls", username="tls")
    session = behind_the_load_balancer(hub)
    to_provider = session.get(
        f"{hub.public_url}/hub/oauth_login", allow_redirects=False, timeout=REQUEST_TIMEOUT
    )
    assert to_provider.status_code == 302, to_provider.text
    assert "; secure" in set_cookies(to_provider)["oauthenticator-state"]
    back = session.post(
        to_provider.headers["location"],
        data={"sub": "sub-tls"},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    assert back.headers["location"].startswith(f"{hub.public_url}/hub/oauth_callback?")
    callback = session.get(back.headers["location"], allow_redirects=False, timeout=10)
    assert callback.status_code == 302, callback.text
    cookies = set_cookies(callback)
    # With user subdomains the login cookie is a __Host- one, which no subdomain can set.
    prefix = "__Host-" if hub.subdomains else ""
    login_cookie = cookies[f"{prefix}jupyterhub-hub-login"]
    assert "; secure" in login_cookie and "domain=" not in login_cookie
    assert f"; path={'/' if hub.subdomains else '/hub/'};" in login_cookie + ";"
    assert "; secure" in cookies["jupyterhub-session-id"]
    hsts = "max-age=31536000" + ("; includeSubDomains" if hub.subdomains else "")
    assert callback.headers[HSTS] == hsts

    home = session.get(f"{hub.public_url}/hub/home", allow_redirects=False, timeout=10)
    assert home.status_code == 200, home.text
    assert home.headers[HSTS] == hsts
    every_cookie = {**cookies, **set_cookies(home)}
    assert "_xsrf" in every_cookie
    # Every one Secure, but the state cookie's deletion (an empty, expired value).
    insecure = [c for c in every_cookie.values() if "; secure" not in c and '=""' not in c]
    assert insecure == [], insecure
