"""local/identity_provider.py answers as Cognito does: groups in the ID token, not in userInfo,
and a refresh brings a new ID token with the groups as they are then."""

from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from local.identity_provider import GROUPS_CLAIM
from tests.support import REQUEST_TIMEOUT

CLIENT_ID = "provider-tests"
CLIENT_SECRET = "not-a-secret"
SECRET_IN_BODY = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
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
            **SECRET_IN_BODY,
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


# The hub sends its secret in the body (oauthenticator's default) or, with basic_auth, as Basic.
@pytest.mark.parametrize(
    ("body", "basic_auth"),
    [(SECRET_IN_BODY, None), ({}, (CLIENT_ID, CLIENT_SECRET))],
    ids=["secret-in-body", "basic-auth"],
)
def test_a_refresh_brings_a_signed_id_token_with_the_current_groups(provider, body, basic_auth):
    provider.add_user(
        "sub-regrouped", preferred_username="regrouped", **{GROUPS_CLAIM: ["students"]}
    )
    tokens = tokens_for(provider, "sub-regrouped")
    # Cognito gives one to every code grant; the hub asked for no `offline_access`.
    assert tokens.get("refresh_token"), tokens
    configuration = requests.get(
        f"{provider.url}/.well-known/openid-configuration", timeout=REQUEST_TIMEOUT
    ).json()
    signing_keys = jwt.PyJWKClient(configuration["jwks_uri"], timeout=REQUEST_TIMEOUT)
    access_tokens = {tokens["access_token"]}
    # The hub refreshes again and again with the same refresh token; each answer is current.
    for groups in (["hub-admins"], ["hub-admins", "students"]):
        provider.add_user("sub-regrouped", preferred_username="regrouped", **{GROUPS_CLAIM: groups})
        answer = requests.post(
            configuration["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"], **body},
            auth=basic_auth,
            timeout=REQUEST_TIMEOUT,
        )
        assert answer.status_code == 200, answer.text
        refreshed = answer.json()
        assert refreshed["access_token"] not in access_tokens
        access_tokens.add(refreshed["access_token"])
        id_token = refreshed["id_token"]
        id_claims = jwt.decode(
            id_token,
            signing_keys.get_signing_key_from_jwt(id_token),
            algorithms=configuration["id_token_signing_alg_values_supported"],
            audience=CLIENT_ID,
            issuer=configuration["issuer"],
            options={"require": ["iss", "aud", "sub", "iat", "exp"]},
        )
        assert id_claims["sub"] == "sub-regrouped"
        assert id_claims["preferred_username"] == "regrouped"
        assert id_claims[GROUPS_CLAIM] == groups
