"""What hub_image/jupyterhub_config.py sets from the environment, read in-process."""

import stat
import time

import jwt
import pytest
from oauthenticator.generic import GenericOAuthenticator
from tornado import web

from hub_image.spawner import engine, user_servers
from users.names import HOME_ROOT

COGNITO = "https://myhub.auth.eu-west-1.amazoncognito.com"
NO_ENDPOINTS = {
    "OAUTH_AUTHORIZE_URL": None,
    "OAUTH_TOKEN_URL": None,
    "OAUTH_USERDATA_URL": None,
    "OAUTH_LOGOUT_URL": None,
}


def test_cognito_domain_gives_the_four_endpoints(load_config):
    oauth = load_config(COGNITO_DOMAIN=COGNITO + "/", **NO_ENDPOINTS).GenericOAuthenticator
    assert oauth.authorize_url == f"{COGNITO}/oauth2/authorize"
    assert oauth.token_url == f"{COGNITO}/oauth2/token"
    assert oauth.userdata_url == f"{COGNITO}/oauth2/userInfo"
    # Logout goes through Cognito's /logout, back to the hub's login page (load_config's hub).
    assert oauth.logout_redirect_url == (
        f"{COGNITO}/logout?client_id=hub-tests&logout_uri=https%3A%2F%2Fhub.example%2Fhub%2Flogin"
    )


def test_an_endpoint_set_on_its_own_wins_over_the_cognito_domain(load_config):
    settings = {**NO_ENDPOINTS, "OAUTH_USERDATA_URL": "https://idp.example/userinfo"}
    oauth = load_config(COGNITO_DOMAIN=COGNITO, **settings).GenericOAuthenticator
    assert oauth.userdata_url == "https://idp.example/userinfo"
    assert oauth.token_url == f"{COGNITO}/oauth2/token"


def test_defaults(load_config, tmp_path):
    config = load_config()
    oauth = config.GenericOAuthenticator
    assert oauth.scope == ["openid", "profile", "email"]
    assert oauth.login_service == "AWS Cognito"
    assert oauth.username_claim({"username": "alice", "email": "a@b.c"}) == "alice"
    assert config.JupyterHub.spawner_class == "hub_image.spawner.TaskSpawner"
    data_dir = tmp_path / "data"
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert config.JupyterHub.cookie_secret_file == f"{data_dir}/jupyterhub_cookie_secret"
    assert config.JupyterHub.db_url == f"sqlite:///{data_dir}/jupyterhub.sqlite"
    assert not config.JupyterHub.db_url.startswith(f"sqlite:///{HOME_ROOT}")
    assert config.JupyterHub.services[0]["command"][-1] == "--timeout=3600"


def test_optional_settings_from_the_environment(load_config):
    config = load_config(
        OAUTH_SCOPE="openid, email",
        OAUTH_LOGIN_USERNAME_KEY="email",
        OAUTH_LOGIN_SERVICE_NAME="TU Delft",
        JUPYTERHUB_DB_URL="postgresql://hub@db/hub",
        JUPYTERHUB_CULL_IDLE_TIMEOUT="600",
    )
    oauth = config.GenericOAuthenticator
    assert (oauth.scope, oauth.login_service) == (["openid", "email"], "TU Delft")
    assert oauth.username_claim({"email": "jane.doe@uni.nl"}) == "jane.doe@uni.nl"
    with pytest.raises(web.HTTPError) as refusal:
        oauth.username_claim({"username": "jane"})
    assert refusal.value.status_code == 403
    assert refusal.value.log_message == "TU Delft sent no 'email' for this account"
    assert config.JupyterHub.db_url == "postgresql://hub@db/hub"
    assert config.JupyterHub.services[0]["command"][-1] == "--timeout=600"


def test_user_lists_are_read_as_separated_names_or_json(load_config):
    config = load_config(ADMIN_USERS="Boss,  admin2\nadmin3", ALLOWED_USERS='["alice", "A.B@x.nl"]')
    assert config.Authenticator.admin_users == {"boss", "admin2", "admin3"}
    assert config.Authenticator.allowed_users == {"alice", "a.b@x.nl"}
    # Only the lists count: users in the database from earlier lists are not let in.
    assert config.Authenticator.allow_existing_users is False


def test_username_pattern_refuses_names_the_hub_cannot_house(load_config):
    authenticator = GenericOAuthenticator(config=load_config())
    for name in ["alice", "jane.doe@uni.nl", "a_b-c", "x" * 128]:
        assert authenticator.validate_username(name), name
    for name in ["alice extra", "bad/name", ".hidden", "-dash", "x" * 129, "alice\n"]:
        assert not authenticator.validate_username(name), name


def test_each_service_has_only_the_scopes_it_needs(load_config):
    config = load_config()
    services = {service["name"]: service for service in config.JupyterHub.services}
    roles = {role["name"]: role for role in config.JupyterHub.load_roles}
    assert services["idle-culler"]["command"][1:3] == ["-m", "jupyterhub_idle_culler"]
    assert services["orphans"]["command"][1:3] == ["-m", "hub_image.orphans"]
    assert not any("admin" in service for service in services.values())
    assert {name: role["services"] for name, role in roles.items()} == {
        name: [name] for name in services
    }
    assert sorted(roles["idle-culler"]["scopes"]) == [
        "delete:servers",
        "list:users",
        "read:servers",
        "read:users:activity",
    ]
    # It reads which task each server is (their state) and stops none through the hub.
    assert sorted(roles["orphans"]["scopes"]) == [
        "admin:server_state",
        "list:users",
        "read:servers",
    ]
    # It reaches the engine as the hub does, and nothing else of the hub's environment.
    environment = services["orphans"]["environment"]
    assert environment["SERVERS_ENGINE"] == "docker"
    assert "JUPYTERHUB_CRYPT_KEY" not in environment and "OAUTH_CLIENT_SECRET" not in environment


def test_users_servers_are_tasks_that_outlive_the_hub(load_config):
    config = load_config()
    assert config.JupyterHub.spawner_class == "hub_image.spawner.TaskSpawner"
    assert config.JupyterHub.cleanup_servers is False
    assert engine().settings.hub == "hub-tests"
    servers = user_servers().current()
    assert servers.image == "serverless-hub-user:tests"
    assert [size.label() for size in servers.sizes] == ["standard: 1 vCPU, 4 GB"]
    every_address = "0.0.0.0"  # noqa: S104 (the hub's API, as the servers reach it)
    assert (config.JupyterHub.hub_ip, config.JupyterHub.hub_connect_ip) == (
        every_address,
        "127.0.0.1",
    )


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            {"SERVERS_ENGINE": None},
            "SERVERS_ENGINE: must be ecs (users' servers as ECS tasks) or docker (as containers on "
            "this machine's Docker engine), got ''",
        ),
        (
            {"SERVERS_ENGINE": "ecs"},
            "SERVERS_CLUSTER: is not set; SERVERS_ENGINE=ecs needs it",
        ),
        (
            {"SERVERS_HOMES_ON_HOST": None},
            "SERVERS_HOMES_ON_HOST: is not set; SERVERS_ENGINE=docker needs it",
        ),
        ({"USER_IMAGE": None}, "USER_IMAGE, SERVER_SIZES: image must name the user image"),
        (
            {"SERVER_SIZES": "[{'name': 'big'}]"},
            "SERVER_SIZES: not valid JSON (Expecting property name enclosed in double quotes: "
            "line 1 column 3 (char 2))",
        ),
        (
            {"SERVER_SIZES": '[{"name": "big", "cpu": 4096}]'},
            "USER_IMAGE, SERVER_SIZES: sizes[0] must have a name, cpu, memory and optionally "
            "groups",
        ),
        (
            {"USER_SERVERS_URL": "https://bucket/key"},
            "USER_SERVERS_URL: must be s3://<bucket>/<key> with a valid bucket name "
            "(got 'https://bucket/key')",
        ),
    ],
)
def test_a_bad_servers_setting_stops_the_hub_naming_it(load_config, settings, message):
    with pytest.raises(SystemExit) as stopped:
        load_config(**settings)
    assert str(stopped.value) == message


# Groups


def id_token(claims: dict, audience: str = "hub-tests") -> str:
    """An ID token as the provider's token endpoint returns it (the hub does not check the key)."""
    claims = {"sub": "s1", "aud": audience, "exp": time.time() + 300, **claims}
    return jwt.encode(claims, "the provider's key, which the hub never sees", algorithm="HS256")


def test_without_groups_the_hub_does_not_manage_groups(load_config):
    config = load_config()
    assert "manage_groups" not in config.Authenticator
    for name in ["auth_state_groups_key", "admin_groups", "allowed_groups"]:
        assert name not in config.GenericOAuthenticator


def test_groups_are_read_in_list_syntax_with_their_case(load_config):
    config = load_config(ADMIN_GROUPS="Hub-Admins", ALLOWED_GROUPS='["students", " Teachers"]')
    assert config.Authenticator.manage_groups is True
    oauth = config.GenericOAuthenticator
    assert oauth.admin_groups == {"Hub-Admins"}
    assert oauth.allowed_groups == {"students", "Teachers"}
    # The username still comes from the userinfo answer, not from the ID token.
    assert oauth.userdata_url == "https://idp.example/userinfo"
    assert "userdata_from_id_token" not in oauth


def test_an_admin_group_is_enough_without_admin_users(load_config):
    config = load_config(ADMIN_USERS=None, ADMIN_GROUPS="hub-admins")
    assert config.Authenticator.admin_users == set()
    assert config.GenericOAuthenticator.admin_groups == {"hub-admins"}


def test_group_options_are_accepted_by_the_authenticator(load_config):
    config = load_config(ADMIN_GROUPS="hub-admins", ALLOWED_GROUPS="students")
    authenticator = GenericOAuthenticator(config=config)
    assert authenticator.manage_groups is True
    assert authenticator.allowed_groups == {"students"}


@pytest.mark.parametrize(
    ("claims", "groups"),
    [
        ({"cognito:groups": ["students", "hub-admins"]}, {"students", "hub-admins"}),
        ({"cognito:groups": []}, set()),
        # Cognito leaves the claim out for users in no group.
        ({}, set()),
        ({"cognito:groups": "students"}, set()),
        ({"cognito:groups": ["students", 7]}, set()),
        ({"cognito:groups": {"students": True}}, set()),
        ({"cognito:groups": None}, set()),
        # A name the lists could never hold is left out; the others still count.
        ({"cognito:groups": ["students", "course:2024", ""]}, {"students"}),
    ],
)
def test_groups_come_from_the_id_token_claim(load_config, claims, groups):
    groups_of = load_config(ALLOWED_GROUPS="students").GenericOAuthenticator.auth_state_groups_key
    assert groups_of({"id_token": id_token(claims)}) == groups


@pytest.mark.parametrize(
    "auth_state",
    [
        {"id_token": None},
        {},
        {"id_token": "not-a-jwt"},
        {"id_token": id_token({"cognito:groups": ["students"]}, audience="another-app")},
        # Only the ID token counts: groups in the userinfo answer are not read.
        {"id_token": None, "oauth_user": {"cognito:groups": ["students"]}},
    ],
)
def test_no_usable_id_token_means_no_groups(load_config, auth_state):
    groups_of = load_config(ALLOWED_GROUPS="students").GenericOAuthenticator.auth_state_groups_key
    assert groups_of(auth_state) == set()


def test_groups_claim_can_be_renamed(load_config):
    config = load_config(ALLOWED_GROUPS="students", OAUTH_GROUPS_CLAIM="groups")
    groups_of = config.GenericOAuthenticator.auth_state_groups_key
    token = id_token({"groups": ["students"], "cognito:groups": ["hub-admins"]})
    assert groups_of({"id_token": token}) == {"students"}


@pytest.mark.parametrize(
    "url",
    ["http://127.0.0.1:9400", "http://127.8.9.10", "http://localhost:9400", "http://[::1]:9400"],
)
def test_plain_http_is_accepted_on_loopback_only(load_config, url):
    oauth = load_config(COGNITO_DOMAIN=url, **NO_ENDPOINTS).GenericOAuthenticator
    assert oauth.token_url == f"{url}/oauth2/token"


def test_with_a_crypt_key_tokens_are_renewed_and_checked(load_config):
    config = load_config(ALLOWED_GROUPS="students", JUPYTERHUB_AUTH_REFRESH_AGE="90")
    assert config.JupyterHub.authenticator_class == "hub_image.authenticator.CognitoAuthenticator"
    assert config.Authenticator.enable_auth_state is True
    assert config.Authenticator.auth_refresh_age == 90
    assert config.Authenticator.auth_refresh_strict is True
    assert config.Authenticator.delete_invalid_users is True
    assert config.Spawner.environment == {"JUPYTERHUB_ACTIVITY_INTERVAL": "60"}


def test_refresh_age_defaults_to_four_minutes(load_config):
    assert load_config().Authenticator.auth_refresh_age == 240


def test_without_a_crypt_key_and_groups_no_auth_state_is_kept(load_config):
    config = load_config(JUPYTERHUB_CRYPT_KEY=None)
    assert "enable_auth_state" not in config.Authenticator
    assert config.Authenticator.delete_invalid_users is True


# The public URL, user subdomains, cookies and HSTS, logout


def test_the_public_url_is_the_callback_urls_origin_by_default(load_config):
    config = load_config()
    assert config.JupyterHub.public_url == "https://hub.example/"
    assert "subdomain_host" not in config.JupyterHub
    # https: every cookie Secure, HSTS for the hub's own name only.
    assert config.JupyterHub.tornado_settings == {
        "cookie_options": {"secure": True},
        "headers": {"Strict-Transport-Security": "max-age=31536000"},
    }
    assert config.JupyterHub.cookie_host_prefix_enabled is False


def test_user_subdomains_put_servers_below_the_public_url(load_config):
    config = load_config(
        PUBLIC_URL="https://hub.example/",
        OAUTH_CALLBACK_URL="https://hub.example/hub/oauth_callback",
        USER_SUBDOMAINS="true",
    )
    assert config.JupyterHub.subdomain_host == "https://hub.example"
    assert config.JupyterHub.public_url == "https://hub.example/"
    headers = config.JupyterHub.tornado_settings["headers"]
    assert headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # A user's subdomain cannot set a __Host- cookie for the hub.
    assert config.JupyterHub.cookie_host_prefix_enabled is True
    oauth = config.GenericOAuthenticator
    assert oauth.logout_redirect_url == (
        "https://idp.example/logout?client_id=hub-tests"
        "&logout_uri=https%3A%2F%2Fhub.example%2Fhub%2Flogin"
    )


def test_loopback_http_stays_as_it_is(load_config):
    config = load_config(
        OAUTH_CALLBACK_URL="http://localhost:8000/hub/oauth_callback", USER_SUBDOMAINS="True"
    )
    assert config.JupyterHub.subdomain_host == "http://localhost:8000"
    assert "tornado_settings" not in config.JupyterHub
    assert "cookie_host_prefix_enabled" not in config.JupyterHub


def test_an_ascii_upper_case_username_claim_is_lowercased_later(load_config):
    username_claim = load_config().GenericOAuthenticator.username_claim
    assert username_claim({"username": "Jane.Doe@Uni.NL"}) == "Jane.Doe@Uni.NL"


@pytest.mark.parametrize(
    ("claim", "problem"),
    [
        ("\u212aate", "is not a valid hub username"),
        ("kate smith", "has whitespace"),
        ("kate ", "has whitespace"),
        ("a/b", "has a '/'"),
        (["kate"], "is not a string (it is list)"),
    ],
)
def test_a_username_claim_is_checked_as_sent(load_config, claim, problem):
    username_claim = load_config().GenericOAuthenticator.username_claim
    with pytest.raises(web.HTTPError) as refusal:
        username_claim({"username": claim})
    assert refusal.value.status_code == 403
    assert refusal.value.log_message.startswith(
        f"AWS Cognito sent the username {claim!r}, which {problem}"
    )


def test_the_authenticator_lowercases_only_a_to_z(load_config):
    from hub_image.authenticator import CognitoAuthenticator

    authenticator = CognitoAuthenticator(config=load_config())
    assert authenticator.normalize_username("Jane.Doe@Uni.NL") == "jane.doe@uni.nl"
    assert authenticator.normalize_username("\u212aate") == "\u212aate"
    assert not authenticator.validate_username("\u212aate")


def test_a_spawn_is_checked_as_every_request_is(load_config):
    """No forced refresh at spawn: a refusal there is a 403 page, never the login page (see
    test_hub_refresh.py's test_why_a_spawn_does_not_refresh_again)."""
    assert load_config().Authenticator.refresh_pre_spawn is False
