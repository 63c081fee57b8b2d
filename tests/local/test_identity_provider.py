"""local/identity_provider.py answers as Cognito does: at Cognito's paths, groups in the ID token,
not in userInfo, a refresh brings a new ID token with the groups as they are then, and a registered
app client is held to its secret, callback URLs and scopes."""

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
SCOPE = "openid profile email"


def authorize(provider, sub: str, client_id=CLIENT_ID, redirect_uri=REDIRECT_URI, scope=SCOPE):
    """Choose `sub` on the provider's login form; its answer (a redirect, when it lets them in)."""
    return requests.post(
        f"{provider.url}/oauth2/authorize",
        params={
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "response_type": "code",
            "scope": scope,
            "state": "s",
            "nonce": "n",
        },
        data={"sub": sub},
        allow_redirects=False,
        timeout=REQUEST_TIMEOUT,
    )


def token_answer(provider, authorized, body=SECRET_IN_BODY, basic_auth=None):
    """The token endpoint's answer to the code that `authorized` redirected with."""
    assert authorized.status_code == 302, authorized.text
    [code] = parse_qs(urlsplit(authorized.headers["location"]).query)["code"]
    return requests.post(
        f"{provider.url}/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
        | body,
        auth=basic_auth,
        timeout=REQUEST_TIMEOUT,
    )


def tokens_for(provider, sub: str) -> dict:
    """Log in as `sub` through the authorization code flow; the token endpoint's answer."""
    answer = token_answer(provider, authorize(provider, sub))
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
    # The mock's own path and Cognito's, which a hub derives from COGNITO_DOMAIN.
    for path in ("/userinfo", "/oauth2/userInfo"):
        userinfo = requests.get(
            f"{provider.url}{path}",
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=REQUEST_TIMEOUT,
        )
        assert userinfo.status_code == 200, f"{path}: {userinfo.text}"
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


def test_a_registered_client_is_held_to_its_secret_callback_urls_and_scopes(provider):
    client_id, secret = "registered-client", "the-clients-secret"
    provider.add_client(client_id, secret, [REDIRECT_URI], ["openid", "email"])
    provider.add_user("sub-registered", preferred_username="registered")

    def authorized(**changes):
        settings = {"client_id": client_id, "scope": "openid email"} | changes
        return authorize(provider, "sub-registered", **settings)

    # Its own secret, in the body or as Basic: tokens; another secret: none.
    in_body = token_answer(
        provider, authorized(), {"client_id": client_id, "client_secret": secret}
    )
    assert in_body.status_code == 200, in_body.text
    as_basic = token_answer(provider, authorized(), {}, basic_auth=(client_id, secret))
    assert as_basic.status_code == 200, as_basic.text
    guessed = {"client_id": client_id, "client_secret": "guessed"}
    refused = token_answer(provider, authorized(), guessed)
    assert refused.status_code in (400, 401), refused.text
    assert refused.json()["error"] == "invalid_client"
    # A callback URL it does not list: no code, not even a redirect there.
    elsewhere = authorized(redirect_uri="http://127.0.0.1:9/elsewhere")
    assert elsewhere.status_code == 400, elsewhere.text
    # A scope it does not allow: refused back to the client, as Cognito's invalid_scope.
    too_wide = authorized(scope="openid email profile")
    assert too_wide.status_code == 302, too_wide.text
    assert parse_qs(urlsplit(too_wide.headers["location"]).query)["error"] == ["invalid_scope"]


def authorize_params(client_id: str) -> dict:
    return {
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "response_type": "code",
        "scope": "openid email",
        "state": "s",
    }


def test_a_session_signs_in_at_once_until_logout_ends_it(provider):
    """As Cognito's hosted UI: a browser that signed in is let through; /logout ends that."""
    client_id, logout_uri = "session-client", "http://127.0.0.1:9/hub/login"
    provider.add_client(client_id, "s", [REDIRECT_URI], ["openid", "email"], [logout_uri])
    provider.add_user("sub-session", preferred_username="session")
    browser = requests.Session()
    url = f"{provider.url}/oauth2/authorize"
    params = authorize_params(client_id)
    first = browser.get(url, params=params, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    assert first.status_code == 200 and "sub" in first.text  # the form: who are you?
    chosen = browser.post(
        url, params=params, data={"sub": "sub-session"}, allow_redirects=False, timeout=10
    )
    assert chosen.status_code == 302, chosen.text
    # The next sign-in in this browser completes at once, as the same person.
    again = browser.get(url, params=params, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    assert again.status_code == 302, again.text
    assert again.headers["location"].startswith(f"{REDIRECT_URI}?code=")

    def logout(**params):
        return browser.get(
            f"{provider.url}/logout", params=params, allow_redirects=False, timeout=10
        )

    # Refused: no client, an unknown one, a sign-out URL the client does not list. Session stays.
    assert logout(logout_uri=logout_uri).status_code == 400
    assert logout(client_id="no-such-client", logout_uri=logout_uri).status_code == 400
    mismatch = logout(client_id=client_id, logout_uri="https://evil.example/")
    assert mismatch.status_code == 400 and "redirect_mismatch" in mismatch.text
    assert logout(client_id=client_id).status_code == 400
    still = browser.get(url, params=params, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    assert still.status_code == 302, still.text

    out = logout(client_id=client_id, logout_uri=logout_uri)
    assert (out.status_code, out.headers["location"]) == (302, logout_uri)
    after = browser.get(url, params=params, allow_redirects=False, timeout=REQUEST_TIMEOUT)
    assert after.status_code == 200 and "sub" in after.text


def refresh(provider, tokens: dict) -> requests.Response:
    return requests.post(
        f"{provider.url}/oauth2/token",
        data={"grant_type": "refresh_token", "refresh_token": tokens["refresh_token"]}
        | SECRET_IN_BODY,
        timeout=REQUEST_TIMEOUT,
    )


def test_a_disabled_users_refresh_is_refused_with_invalid_grant(provider):
    provider.add_user("sub-disabled", preferred_username="disabled")
    tokens = tokens_for(provider, "sub-disabled")
    provider.disable_user("sub-disabled")
    try:
        refused = refresh(provider, tokens)
        assert refused.status_code == 400, refused.text
        assert refused.json() == {
            "error": "invalid_grant",
            "error_description": "User is disabled.",
        }
        assert authorize(provider, "sub-disabled").status_code == 400
    finally:
        provider.disable_user("sub-disabled", False)
    assert refresh(provider, tokens).status_code == 200


def test_revoked_tokens_are_refused_with_invalid_grant(provider):
    provider.add_user("sub-revoked", preferred_username="revoked")
    tokens = tokens_for(provider, "sub-revoked")
    assert refresh(provider, tokens).status_code == 200
    provider.revoke_tokens("sub-revoked")
    refused = refresh(provider, tokens)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"] == "invalid_grant"


def test_the_token_endpoint_can_fail_as_in_an_outage(provider):
    provider.add_user("sub-outage", preferred_username="outage")
    tokens = tokens_for(provider, "sub-outage")
    provider.token_endpoint_fails(503)
    try:
        assert refresh(provider, tokens).status_code == 503
    finally:
        provider.token_endpoint_fails(None)
    assert refresh(provider, tokens).status_code == 200
