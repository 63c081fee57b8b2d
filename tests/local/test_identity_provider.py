"""local/identity_provider.py answers as Cognito does: groups in the ID token, not in userInfo."""

from urllib.parse import parse_qs, urlsplit

import jwt
import requests

from local.identity_provider import GROUPS_CLAIM
from tests.support import REQUEST_TIMEOUT

CLIENT_ID = "provider-tests"
REDIRECT_URI = "http://127.0.0.1:9/callback"


def tokens_for(provider, sub: str) -> dict:
    """Log in as `sub` through the authorization code flow; the token endpoint's answer."""
    authorize = requests.post(
        f"{provider.url}/oauth2/authorize",
        params={
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "response_type": "code",
            "scope": "openid profile email",
            "state": "s",
            "nonce": "n",
        },
        data={"sub": sub},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )
    assert authorize.status_code == 302, authorize.text
    [code] = parse_qs(urlsplit(authorize.headers["location"]).query)["code"]
    answer = requests.post(
        f"{provider.url}/oauth2/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "client_id": CLIENT_ID,
            "client_secret": "not-a-secret",
        },
        timeout=REQUEST_TIMEOUT,
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_id_token_has_the_groups_and_userinfo_has_not(provider):
    provider.add_user(
        "sub-grouped", preferred_username="grouped", **{GROUPS_CLAIM: ["hub-admins", "students"]}
    )
    tokens = tokens_for(provider, "sub-grouped")
    # Read as the hub reads it: for this client, signature unchecked.
    id_claims = jwt.decode(
        tokens["id_token"], audience=CLIENT_ID, options={"verify_signature": False}
    )
    assert id_claims[GROUPS_CLAIM] == ["hub-admins", "students"]
    assert id_claims["preferred_username"] == "grouped"
    userinfo = requests.get(
        f"{provider.url}/userinfo",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
        timeout=REQUEST_TIMEOUT,
    )
    assert userinfo.status_code == 200, userinfo.text
    assert userinfo.json()["preferred_username"] == "grouped"
    assert GROUPS_CLAIM not in userinfo.json()
