# JupyterHub with AWS Cognito login, for the listed users only, servers in this container.
# Configured only through environment variables; a bad one stops the hub with one line.
import os
import sys
from pathlib import Path

from tornado import web

from users.lists import UserListError, check_home_directories, clean_user_list, parse_user_list
from users.names import USERNAME_PATTERN

c = get_config()  # noqa: F821 (JupyterHub defines it when it loads this file)


def required(name):
    """A setting the hub cannot do without: stop at start, naming it, when it is missing."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise SystemExit(f"{name}: is not set; the hub cannot start without it")
    return value


def user_list(name):
    """A list of hub usernames (comma/whitespace separated or a JSON array), checked."""
    try:
        return clean_user_list(name, parse_user_list(name, os.environ.get(name, "")))
    except UserListError as error:
        raise SystemExit(str(error)) from None


# Cognito's three endpoints follow from its domain; each can still be set on its own.
cognito_domain = os.environ.get("COGNITO_DOMAIN", "").strip().rstrip("/")
if cognito_domain and not cognito_domain.startswith(("https://", "http://")):
    raise SystemExit(f"COGNITO_DOMAIN: must start with https:// (got {cognito_domain!r})")


def endpoint(name, cognito_path):
    value = os.environ.get(name, "").strip()
    if value or cognito_domain:
        return value or cognito_domain + cognito_path
    raise SystemExit(f"{name}: is not set, nor COGNITO_DOMAIN to derive it from")


# Login through the identity provider with oauthenticator's own OAuth 2.0 client.
c.JupyterHub.authenticator_class = "generic-oauth"
c.GenericOAuthenticator.client_id = required("OAUTH_CLIENT_ID")
c.GenericOAuthenticator.client_secret = required("OAUTH_CLIENT_SECRET")
c.GenericOAuthenticator.oauth_callback_url = required("OAUTH_CALLBACK_URL")
c.GenericOAuthenticator.authorize_url = endpoint("OAUTH_AUTHORIZE_URL", "/oauth2/authorize")
c.GenericOAuthenticator.token_url = endpoint("OAUTH_TOKEN_URL", "/oauth2/token")
c.GenericOAuthenticator.userdata_url = endpoint("OAUTH_USERDATA_URL", "/oauth2/userInfo")
scope = os.environ.get("OAUTH_SCOPE", "openid,profile,email")
c.GenericOAuthenticator.scope = [part.strip() for part in scope.split(",") if part.strip()]
login_service = os.environ.get("OAUTH_LOGIN_SERVICE_NAME", "AWS Cognito")
c.GenericOAuthenticator.login_service = login_service
username_key = os.environ.get("OAUTH_LOGIN_USERNAME_KEY", "preferred_username")


def username_from(user_info):
    """The hub username is the provider's claim; without it, a 403 page instead of a 500."""
    if not user_info.get(username_key):
        raise web.HTTPError(403, f"{login_service} sent no {username_key!r} for this account")
    return user_info[username_key]


c.GenericOAuthenticator.username_claim = username_from
# Names the hub can't house are refused at login; JupyterHub uses re.match, so anchor the end.
c.Authenticator.username_pattern = rf"(?:{USERNAME_PATTERN})\Z"

# Who may log in: only these lists, read at every start (no one is kept from earlier lists).
admin_users = user_list("ADMIN_USERS")
allowed_users = user_list("ALLOWED_USERS")
if not admin_users:
    raise SystemExit("ADMIN_USERS: names no one; list at least one admin to manage the hub")
try:
    check_home_directories({"ADMIN_USERS": admin_users, "ALLOWED_USERS": allowed_users})
except UserListError as error:
    raise SystemExit(str(error)) from None
c.Authenticator.admin_users = set(admin_users)
c.Authenticator.allowed_users = set(allowed_users)
c.Authenticator.allow_existing_users = False

# Each user's JupyterLab runs here as their own Unix account, home directory on /home.
c.JupyterHub.spawner_class = "hub_image.spawner.AccountSpawner"
c.Spawner.default_url = "/lab"

# Cookie secret (unless JPY_COOKIE_SECRET) and database outlive restarts, so no one is logged out.
data_dir = Path(os.environ.get("JUPYTERHUB_DATA_DIR", "/srv/jupyterhub/data"))
data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
c.JupyterHub.cookie_secret_file = str(data_dir / "jupyterhub_cookie_secret")
c.JupyterHub.db_url = os.environ.get("JUPYTERHUB_DB_URL", f"sqlite:///{data_dir}/jupyterhub.sqlite")

# Idle servers are stopped, by a service that may do that and nothing more.
cull_timeout = os.environ.get("JUPYTERHUB_CULL_IDLE_TIMEOUT", "3600").strip()
if not cull_timeout.isdigit() or int(cull_timeout) == 0:
    raise SystemExit(f"JUPYTERHUB_CULL_IDLE_TIMEOUT: must be seconds > 0 (got {cull_timeout!r})")
culler_command = [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={cull_timeout}"]
c.JupyterHub.services = [{"name": "idle-culler", "command": culler_command}]
culler_scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
c.JupyterHub.load_roles = [
    {"name": "idle-culler", "scopes": culler_scopes, "services": ["idle-culler"]}
]
