# JupyterHub with AWS Cognito login, for listed users and groups only, each user's server in a
# task (on AWS) or container (here) of its own. Configured only through environment variables;
# a bad one stops the hub with one line.
import ipaddress
import os
import sys
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import jwt
from tornado import web
from traitlets.log import get_logger

from hub_image.one_hub import hold_the_database
from hub_image.spawner import engine, user_servers
from hub_image.user_lists import lists_at_start
from hub_image.user_servers import UserServersError
from users.lists import UserListError
from users.names import USERNAME_PATTERN, group_name_problem, username_claim_problem

c = get_config()  # noqa: F821 (JupyterHub defines it when it loads this file)


def required(name):
    """A setting the hub cannot do without: stop at start, naming it, when it is missing."""
    value = os.environ.get(name, "").strip()
    if not value:
        raise SystemExit(f"{name}: is not set; the hub cannot start without it")
    return value


def seconds(name, default):
    """A number of seconds, more than zero, from the environment."""
    value = os.environ.get(name, default).strip()
    if not value.isdigit() or int(value) == 0:
        raise SystemExit(f"{name}: must be seconds > 0 (got {value!r})")
    return int(value)


def secure_url(name, value):
    """Tokens and the client secret travel to these URLs: https://, or http:// on loopback only."""
    url = urlsplit(value)
    loopback = url.hostname == "localhost" or is_loopback_address(url.hostname)
    if url.scheme == "https" and url.hostname or url.scheme == "http" and loopback:
        return value
    raise SystemExit(
        f"{name}: must be an https:// URL (got {value!r}); http:// is only for loopback hosts"
    )


def true_or_false(name, default):
    """A switch from the environment: true or false, nothing else."""
    value = os.environ.get(name, "").strip().lower() or default
    if value not in ("true", "false"):
        raise SystemExit(f"{name}: must be true or false (got {os.environ[name]!r})")
    return value == "true"


def is_loopback_address(host):
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


# Cognito's three endpoints follow from its domain; each can still be set on its own.
cognito_domain = os.environ.get("COGNITO_DOMAIN", "").strip().rstrip("/")
if cognito_domain:
    secure_url("COGNITO_DOMAIN", cognito_domain)


def endpoint(name, cognito_path):
    value = os.environ.get(name, "").strip()
    if value:
        return secure_url(name, value)
    if cognito_domain:
        return cognito_domain + cognito_path
    raise SystemExit(f"{name}: is not set, nor COGNITO_DOMAIN to derive it from")


# Login through the identity provider with oauthenticator's own OAuth 2.0 client.
c.JupyterHub.authenticator_class = "hub_image.authenticator.CognitoAuthenticator"
client_id = required("OAUTH_CLIENT_ID")
c.GenericOAuthenticator.client_id = client_id
c.GenericOAuthenticator.client_secret = required("OAUTH_CLIENT_SECRET")
c.GenericOAuthenticator.oauth_callback_url = required("OAUTH_CALLBACK_URL")
c.GenericOAuthenticator.authorize_url = endpoint("OAUTH_AUTHORIZE_URL", "/oauth2/authorize")
c.GenericOAuthenticator.token_url = endpoint("OAUTH_TOKEN_URL", "/oauth2/token")
c.GenericOAuthenticator.userdata_url = endpoint("OAUTH_USERDATA_URL", "/oauth2/userInfo")
logout_url = endpoint("OAUTH_LOGOUT_URL", "/logout")
scope = os.environ.get("OAUTH_SCOPE", "openid,profile,email")
c.GenericOAuthenticator.scope = [part.strip() for part in scope.split(",") if part.strip()]
login_service = os.environ.get("OAUTH_LOGIN_SERVICE_NAME", "AWS Cognito")
c.GenericOAuthenticator.login_service = login_service
# Cognito's own username: nobody can change it (preferred_username, which users can, is a choice
# for an existing pool that locks it).
username_key = os.environ.get("OAUTH_LOGIN_USERNAME_KEY", "username")


def username_from(user_info):
    """The hub username is the provider's claim, checked as sent: a refusal is a 403, not a 500."""
    claim = user_info.get(username_key)
    if not claim:
        raise web.HTTPError(403, f"{login_service} sent no {username_key!r} for this account")
    # Checked before JupyterHub lowercases it: "\u212aate" (a Kelvin sign) must not become kate.
    problem = username_claim_problem(claim)
    if problem:
        raise web.HTTPError(
            403, f"{login_service} sent the {username_key} {claim!r}, which {problem}"
        )
    return claim


c.GenericOAuthenticator.username_claim = username_from
# Names the hub can't house are refused at login; JupyterHub uses re.match, so anchor the end.
c.Authenticator.username_pattern = rf"(?:{USERNAME_PATTERN})\Z"

# Where browsers reach the hub: an origin, by default the callback URL's, on which that URL lies.
callback = urlsplit(c.GenericOAuthenticator.oauth_callback_url)
public_url = os.environ.get("PUBLIC_URL", "").strip().rstrip("/")
if public_url:
    public_url = secure_url("PUBLIC_URL", public_url)
else:
    public_url = secure_url("OAUTH_CALLBACK_URL", f"{callback.scheme}://{callback.netloc}")
public = urlsplit(public_url)
if public.path or public.query or public.fragment:
    raise SystemExit(
        f"PUBLIC_URL: must be an origin such as https://hub.example.org, without a path "
        f"(got {public_url!r})"
    )
if (callback.scheme, callback.netloc) != (public.scheme, public.netloc):
    raise SystemExit(
        f"OAUTH_CALLBACK_URL: must be on PUBLIC_URL's origin {public_url} "
        f"(got {c.GenericOAuthenticator.oauth_callback_url!r})"
    )
# Set, so the hub never guesses http from its proxy's X-Forwarded-Proto ("https,http" on AWS).
c.JupyterHub.public_url = public_url + "/"

# Each user's server on its own origin (https://<user>.<host>/), so its pages cannot act as whoever
# opens them on the hub or on other servers; needs a wildcard DNS name and certificate.
user_subdomains = true_or_false("USER_SUBDOMAINS", "false")
if user_subdomains:
    try:
        ipaddress.ip_address(public.hostname)
    except ValueError:
        c.JupyterHub.subdomain_host = public_url
    else:
        raise SystemExit(
            f"USER_SUBDOMAINS: needs a PUBLIC_URL with a host name, not an IP address (got "
            f"{public_url!r}); on this machine use http://localhost:<port>"
        )

# Over https: every cookie Secure (the _xsrf one too, which JupyterHub leaves to cookie_options),
# and browsers told to keep to https for a year (the users' subdomains too, when they exist).
if public.scheme == "https":
    hsts = "max-age=31536000" + ("; includeSubDomains" if user_subdomains else "")
    c.JupyterHub.tornado_settings = {
        "cookie_options": {"secure": True},
        "headers": {"Strict-Transport-Security": hsts},
    }
    # A user's subdomain cannot set (toss) a __Host- cookie on the hub; the prefix needs https.
    c.JupyterHub.cookie_host_prefix_enabled = user_subdomains

# Logging out ends the Cognito session too, or the next "Sign in" in that browser is silently
# the same person; Cognito then sends it to the login page, a sign-out URL the app client lists.
logout_target = urlencode({"client_id": client_id, "logout_uri": f"{public_url}/hub/login"})
c.GenericOAuthenticator.logout_redirect_url = f"{logout_url}?{logout_target}"

# Who may log in: only the lists (no one is kept from earlier ones), checked as `pulumi preview`
# checks them. From USER_LISTS_URL's S3 object, kept fresh while the hub runs; else from the
# environment, read at every start.
lists_url = os.environ.get("USER_LISTS_URL", "").strip()
if lists_url:
    c.CognitoAuthenticator.user_lists_url = lists_url
    c.CognitoAuthenticator.user_lists_refresh_seconds = seconds("USER_LISTS_REFRESH_SECONDS", "30")
try:
    lists = lists_at_start(os.environ, get_logger())
except UserListError as error:
    raise SystemExit(str(error)) from None
c.Authenticator.admin_users = set(lists.admin_users)
c.Authenticator.allowed_users = set(lists.allowed_users)
c.Authenticator.allow_existing_users = False
# Users in the database whom the lists no longer admit are removed at start (see authenticator.py).
c.Authenticator.delete_invalid_users = True

# Cognito's userInfo leaves groups out; its ID token has them, in this claim.
groups_claim = os.environ.get("OAUTH_GROUPS_CLAIM", "").strip() or "cognito:groups"


def groups_from_id_token(auth_state):
    """The user's groups as the ID token names them; a missing or malformed claim means none."""
    try:
        # Decoded as oauthenticator decodes ID tokens: fresh from the token endpoint, so unsigned.
        claims = jwt.decode(
            auth_state.get("id_token") or "",
            audience=client_id,
            options={"verify_signature": False, "verify_aud": True, "verify_exp": True},
        )
    except jwt.InvalidTokenError as error:
        get_logger().warning("No groups: no usable ID token (is openid in OAUTH_SCOPE?): %s", error)
        return set()
    groups = claims.get(groups_claim, [])
    if not isinstance(groups, list) or not all(isinstance(group, str) for group in groups):
        get_logger().warning("No groups: the ID token's %r is not a list of names", groups_claim)
        return set()
    # Names the lists could never hold can never match them either; they stay out of the hub.
    return {group for group in groups if not group_name_problem(group)}


# Members of these Cognito groups may log in, or are admins; admin_users stay admins regardless.
# Lists from USER_LISTS_URL may name groups at any time, so groups are read from the start.
groups_in_use = bool(lists.admin_groups or lists.allowed_groups or lists_url)
if groups_in_use:
    c.Authenticator.manage_groups = True
    c.GenericOAuthenticator.auth_state_groups_key = groups_from_id_token
    c.GenericOAuthenticator.admin_groups = set(lists.admin_groups)
    c.GenericOAuthenticator.allowed_groups = set(lists.allowed_groups)

# Renewing tokens (and re-reading groups) needs the refresh token, kept encrypted with this key.
if groups_in_use and not os.environ.get("JUPYTERHUB_CRYPT_KEY", "").strip():
    groups_from = "USER_LISTS_URL" if lists_url else "ADMIN_GROUPS or ALLOWED_GROUPS"
    raise SystemExit(
        f"JUPYTERHUB_CRYPT_KEY: is not set; with {groups_from} the hub keeps "
        "refresh tokens to re-check group membership (make a key with: openssl rand -hex 32)"
    )
if os.environ.get("JUPYTERHUB_CRYPT_KEY", "").strip():
    c.Authenticator.enable_auth_state = True
    # Every this many seconds a user's tokens are renewed and a login's checks run again.
    refresh_age = seconds("JUPYTERHUB_AUTH_REFRESH_AGE", "240")
    c.Authenticator.auth_refresh_age = refresh_age
    # A user who fails that check is refused on API tokens too, not only in the browser.
    c.Authenticator.auth_refresh_strict = True
    # A spawn is checked as every request is (at most auth_refresh_age old): JupyterHub's extra
    # check at spawn answers a refusal with a 403 page (a 500 in 6.1.1), not the login page.
    c.Authenticator.refresh_pre_spawn = False
    # Servers report to the hub each minute, which triggers the check for users only in JupyterLab.
    c.Spawner.environment = {"JUPYTERHUB_ACTIVITY_INTERVAL": str(min(60, refresh_age))}

# Each user's server is a task (or container) of its own, from the user image, as their own uid
# with their home only; the engine is ECS on AWS, the local Docker engine elsewhere.
c.JupyterHub.spawner_class = "hub_image.spawner.TaskSpawner"
c.TaskSpawner.homes = os.environ.get("HOMES", "/home")
c.Spawner.default_url = "/lab"
# What servers run, from the object `pulumi up` writes or from the environment: good at start.
try:
    user_servers().current()
except UserServersError as error:
    raise SystemExit(str(error)) from None
# Servers outlive the hub: a restarted hub finds each one again (poll) and puts its route back.
c.JupyterHub.cleanup_servers = False
# The hub's API, which each server calls, on the hub's own addresses (on AWS, a security group
# admits only the servers to it); servers reach it at the address the engine knows for it.
c.JupyterHub.hub_ip = os.environ.get("HUB_IP", "0.0.0.0")  # noqa: S104
servers_engine = engine()  # its settings, checked at start
c.JupyterHub.hub_connect_ip = (
    os.environ.get("HUB_CONNECT_IP", "").strip() or servers_engine.hub_address()
)

# Cookie secret (unless JPY_COOKIE_SECRET) and database outlive restarts, so no one is logged out.
data_dir = Path(os.environ.get("JUPYTERHUB_DATA_DIR", "/srv/jupyterhub/data"))
data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
# A volume may come with the directory already made, and open: it holds the hub's secrets.
data_dir.chmod(0o700)
c.JupyterHub.cookie_secret_file = str(data_dir / "jupyterhub_cookie_secret")
c.JupyterHub.db_url = os.environ.get("JUPYTERHUB_DB_URL", f"sqlite:///{data_dir}/jupyterhub.sqlite")
# SQLite on EFS, written by one hub only: a second waits here until the first has stopped.
database_lock = hold_the_database(data_dir, get_logger())

# Idle servers are stopped, by a service that may do that and nothing more.
cull_timeout = seconds("JUPYTERHUB_CULL_IDLE_TIMEOUT", "3600")
culler_command = [sys.executable, "-m", "jupyterhub_idle_culler", f"--timeout={cull_timeout}"]
# Servers' tasks the hub has no record of are stopped, by a service that sees only the records.
orphans_every = seconds("ORPHANS_INTERVAL_SECONDS", "300")
orphans_command = [sys.executable, "-m", "hub_image.orphans", f"--interval={orphans_every}"]
# It reaches the engine as the hub does: the servers' settings, and AWS's or docker's own.
engine_environment = {
    name: value
    for name, value in os.environ.items()
    if name.startswith(("SERVERS_", "AWS_", "ECS_", "DOCKER_")) or name == "PYTHONPATH"
}
c.JupyterHub.services = [
    {"name": "idle-culler", "command": culler_command},
    {"name": "orphans", "command": orphans_command, "environment": engine_environment},
]
culler_scopes = ["list:users", "read:users:activity", "read:servers", "delete:servers"]
orphans_scopes = ["list:users", "read:servers", "admin:server_state"]
c.JupyterHub.load_roles = [
    {"name": "idle-culler", "scopes": culler_scopes, "services": ["idle-culler"]},
    {"name": "orphans", "scopes": orphans_scopes, "services": ["orphans"]},
]
