"""A test identity provider on loopback that answers like AWS Cognito, for tests and the try-out.

oidc-provider-mock issues ID and access tokens with the claims each user is given. As Cognito
does, its userInfo answer here leaves out `cognito:groups`: only the tokens carry group membership.
The code grant always answers with a refresh token; a refresh answer carries a new ID token with
the user's claims (groups included) as they are at that moment, as Cognito's does.

    python -m local.identity_provider --port 9400 \
        --users '{"jane.doe@uni.nl": {"preferred_username": "jane.doe@uni.nl"}}'
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


def cognito_like_app(users: dict[str, dict]):
    """The mock provider's app with these users, answering as the module's docstring says."""
    import flask
    from authlib.oidc.core.grants.util import generate_id_token
    from oidc_provider_mock import User, app

    # Private: no public API for the signing algorithm, a scope's claims or the refresh grant.
    from oidc_provider_mock._app import _JWS_ALG, RefreshTokenGrant, _user_claims_for_scope

    # Private: the signing key, users and refresh tokens live only in the provider's storage.
    from oidc_provider_mock._storage import storage

    # Cognito takes the client's secret in the body too (oauthenticator's default), not only Basic.
    RefreshTokenGrant.TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]
    provider = app(user_claims=[User(sub=sub, claims=claims) for sub, claims in users.items()])

    @provider.after_request
    def userinfo_without_groups(response):
        if flask.request.path == "/userinfo" and response.is_json:
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
