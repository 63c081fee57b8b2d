"""A test identity provider on loopback that answers like AWS Cognito, for tests and the try-out.

oidc-provider-mock issues ID and access tokens with the claims each user is given. It answers at
Cognito's paths below its domain (/oauth2/authorize, /oauth2/token, /oauth2/userInfo), so a hub
given its URL as COGNITO_DOMAIN finds all three. As Cognito does, its userInfo answer leaves out
`cognito:groups`: only the tokens carry group membership.
An app client registered with `add_client` is held to its secret, callback URLs and scopes, as
Cognito holds one; any other client id is let in with any of them (the mock's default).
The code grant always answers with a refresh token; a refresh answer carries a new ID token with
the user's claims (groups included) as they are at that moment, as Cognito's does.
As Cognito's hosted UI, it remembers who signed in (a session cookie, `cognito`): a later
/oauth2/authorize in that browser answers at once, without the form, until /logout ends the
session. /logout takes `client_id` and `logout_uri`, which must be one of that app client's sign-out
URLs (else an error page), and sends the browser there.
A refresh can be refused as Cognito refuses one: for a disabled user (`disable_user`, 400
invalid_grant) or after `revoke_tokens`; and the token endpoint can be made to fail
(`token_endpoint_fails`, e.g. 503) as an outage would.

    python -m local.identity_provider --port 9400 \
        --users '{"jane.doe@uni.nl": {"username": "jane.doe@uni.nl"}}'
"""

import argparse
import contextlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests

from local.polling import wait_for

GROUPS_CLAIM = "cognito:groups"
# The mock's own userinfo path, and Cognito's.
USERINFO_PATHS = ("/userinfo", "/oauth2/userInfo")
# Cognito takes the client's secret in the body too (oauthenticator's default), not only Basic.
TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
READY_SECONDS = 60
REQUEST_SECONDS = 10


@dataclass(frozen=True)
class Provider:
    url: str

    def add_user(self, sub: str, **claims) -> str:
        """Give the provider a user (or replace one) with exactly these claims."""
        answer = requests.put(f"{self.url}/users/{sub}", json=claims, timeout=REQUEST_SECONDS)
        answer.raise_for_status()
        return sub

    def add_client(
        self,
        client_id: str,
        secret: str,
        callback_urls: list[str],
        scopes: list[str],
        logout_urls: list[str] = (),
    ) -> None:
        """Register an app client (or replace one): only this secret, these URLs and scopes pass."""
        client = {
            "secret": secret,
            "callback_urls": callback_urls,
            "scopes": scopes,
            "logout_urls": list(logout_urls),
        }
        answer = requests.put(
            f"{self.url}/clients/{client_id}", json=client, timeout=REQUEST_SECONDS
        )
        answer.raise_for_status()

    def disable_user(self, sub: str, disabled: bool = True) -> None:
        """As Cognito's AdminDisableUser (or, with False, AdminEnableUser)."""
        answer = requests.put(
            f"{self.url}/users/{sub}/disabled", json=disabled, timeout=REQUEST_SECONDS
        )
        answer.raise_for_status()

    def revoke_tokens(self, sub: str) -> None:
        """As Cognito's token revocation: the user's refresh tokens are refused from now on."""
        answer = requests.post(f"{self.url}/users/{sub}/revoke-tokens", timeout=REQUEST_SECONDS)
        answer.raise_for_status()

    def token_endpoint_fails(self, status: int | None) -> None:
        """Make every token request answer `status` (e.g. 503) until called with None."""
        answer = requests.put(
            f"{self.url}/token-outage", json={"status": status}, timeout=REQUEST_SECONDS
        )
        answer.raise_for_status()


def cognito_like_app(users: dict[str, dict]):
    """The mock provider's app with these users, answering as the module's docstring says."""
    import flask
    from authlib.oidc.core.grants.util import generate_id_token
    from oidc_provider_mock import User, app

    # Private: no public API for the signing algorithm, a scope's claims, the refresh grant or the
    # authorization request's checks (for a sign-in the session completes).
    from oidc_provider_mock._app import (
        _JWS_ALG,
        RefreshTokenGrant,
        _user_claims_for_scope,
        _validate_auth_request_client_params,
        authorization,
        userinfo,
    )

    # Private: the signing key, users, clients and refresh tokens live only in its storage, and
    # its public registration (POST /oauth2/clients) makes up the client's id and secret.
    from oidc_provider_mock._storage import Client, storage

    @dataclass(kw_only=True, frozen=True)
    class AppClient(Client):
        """Checked as Cognito checks an app client: a scope it does not allow is refused
        (invalid_scope) rather than dropped; its secret comes as Basic or in the body."""

        logout_urls: tuple[str, ...] = ()  # Cognito's "Allowed sign-out URLs"

        def check_endpoint_auth_method(self, method, endpoint):
            return method in TOKEN_AUTH_METHODS

        def get_allowed_scope(self, scope):
            requested = (scope or "").split() if isinstance(scope, str) else list(scope)
            return " ".join(requested) if set(requested) <= set(self.allowed_scopes) else None

    RefreshTokenGrant.TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    provider = app(user_claims=[User(sub=sub, claims=claims) for sub, claims in users.items()])
    # Cognito's own cookie name for its hosted UI's session.
    provider.config["SESSION_COOKIE_NAME"] = "cognito"
    disabled_users: set[str] = set()
    token_outage: dict[str, int] = {}
    # Cognito's userInfo path: a hub derives it from COGNITO_DOMAIN.
    provider.add_url_rule(USERINFO_PATHS[1], "cognito-userinfo", userinfo, methods=["GET", "POST"])

    @provider.put("/clients/<client_id>")
    def set_client(client_id):
        body = flask.request.get_json()
        client = AppClient(
            id=client_id,
            secret=body["secret"],
            redirect_uris=body["callback_urls"],
            allowed_scopes=body["scopes"],
            token_endpoint_auth_method="client_secret_post",  # noqa: S106 (a method name)
            logout_urls=tuple(body.get("logout_urls", ())),
        )
        storage.store_client(client)
        return "", 204

    @provider.put("/users/<sub>/disabled")
    def set_disabled(sub):
        if flask.request.get_json() is True:
            disabled_users.add(sub)
        else:
            disabled_users.discard(sub)
        return "", 204

    @provider.put("/token-outage")
    def set_token_outage():
        status = flask.request.get_json()["status"]
        token_outage.clear()
        if status:
            token_outage["status"] = int(status)
        return "", 204

    @provider.before_request
    def refuse_disabled_users_and_outages():
        request = flask.request
        if request.path == "/oauth2/token" and token_outage:
            return "The token endpoint is unavailable", token_outage["status"]
        if request.path == "/oauth2/token" and request.form.get("grant_type") == "refresh_token":
            refresh_token = storage.get_refresh_token(request.form.get("refresh_token", ""))
            if refresh_token and refresh_token.user_id in disabled_users:
                refusal = {"error": "invalid_grant", "error_description": "User is disabled."}
                return flask.jsonify(refusal), 400
        if request.path == "/oauth2/authorize" and request.form.get("sub") in disabled_users:
            return "User is disabled.", 400
        return None

    @provider.before_request
    def signed_in_already():
        """A browser with a session is let through /oauth2/authorize at once, as Cognito does."""
        request = flask.request
        sub = flask.session.get("sub")
        if request.path != "/oauth2/authorize" or request.method != "GET" or not sub:
            return None
        user = storage.get_user(sub)
        if user is None or sub in disabled_users:
            return None
        grant, redirect_uri = _validate_auth_request_client_params(request)
        issued = grant.create_authorization_response(redirect_uri, user)
        return authorization.handle_response(*issued)

    @provider.after_request
    def remember_who_signed_in(response):
        request = flask.request
        signed_in = request.path == "/oauth2/authorize" and request.method == "POST"
        if signed_in and response.status_code == 302 and "code=" in response.location:
            flask.session["sub"] = request.form["sub"]
        return response

    @provider.get("/logout")
    def logout():
        """Cognito's sign-out: end the session, back to one of the app client's sign-out URLs."""
        client_id = flask.request.args.get("client_id")
        logout_uri = flask.request.args.get("logout_uri")
        client = storage.get_client(client_id) if client_id else None
        if not isinstance(client, AppClient):
            return f"invalid_request: no app client {client_id!r}", 400
        if logout_uri not in client.logout_urls:
            return f"redirect_mismatch: {logout_uri!r} is not a sign-out URL of {client_id}", 400
        flask.session.clear()
        return flask.redirect(logout_uri)

    @provider.after_request
    def userinfo_without_groups(response):
        if flask.request.path in USERINFO_PATHS and response.is_json:
            claims = response.get_json()
            claims.pop(GROUPS_CLAIM, None)
            response.set_data(json.dumps(claims))
        return response

    @provider.after_request
    def refresh_with_id_token(response):
        form = flask.request.form
        is_refresh = (
            flask.request.path == "/oauth2/token" and form.get("grant_type") == "refresh_token"
        )
        if not is_refresh or response.status_code != 200:
            return response
        tokens = response.get_json()
        # As in the code grant, only an `openid` scope gets an ID token.
        if "openid" not in tokens.get("scope", "").split():
            return response
        refresh_token = storage.get_refresh_token(form["refresh_token"])
        user = storage.get_user(refresh_token.user_id)
        key = storage.jwk.as_dict(is_private=True)
        tokens["id_token"] = generate_id_token(
            tokens,
            _user_claims_for_scope(user, tokens["scope"]),
            key,
            iss=flask.request.host_url.rstrip("/"),
            aud=[refresh_token.client_id],
            alg=_JWS_ALG,
            exp=tokens["expires_in"],
            kid=key["kid"],
        )
        response.set_data(json.dumps(tokens))
        return response

    return provider


@contextlib.contextmanager
def running_provider(port: int, log_path: Path, users: dict[str, dict] | None = None):
    """Run the provider on 127.0.0.1:port until the block ends; yields a Provider."""
    command = [sys.executable, "-m", "local.identity_provider", "--port", str(port)]
    command += ["--users", json.dumps(users or {})]
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=root)
    provider = Provider(f"http://127.0.0.1:{port}")

    def answers():
        if process.poll() is not None:
            raise RuntimeError(f"the identity provider exited:\n{Path(log_path).read_text()}")
        return _answers(provider)

    try:
        wait_for(answers, READY_SECONDS, f"the identity provider at {provider.url}")
        yield provider
    finally:
        process.terminate()
        process.wait(timeout=30)


def _answers(provider: Provider) -> bool:
    try:
        return requests.get(f"{provider.url}/.well-known/openid-configuration", timeout=1).ok
    except requests.ConnectionError:
        return False


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=9400)
    parser.add_argument("--users", default="{}", help="JSON: {sub: {claim: value}}")
    args = parser.parse_args()
    import uvicorn

    # Plain HTTP is fine on loopback; the library refuses it otherwise.
    os.environ["AUTHLIB_INSECURE_TRANSPORT"] = "1"
    app = cognito_like_app(json.loads(args.users))
    uvicorn.run(app, interface="wsgi", host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
