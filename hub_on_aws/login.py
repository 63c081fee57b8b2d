"""The hub's Cognito login: a user pool (or an existing one), its hosted UI, the app client."""

import pulumi
import pulumi_aws as aws

from users.names import home_directory_for

# What the hub asks for; openid gives the ID token, which carries cognito:groups.
SCOPES = ["openid", "profile", "email"]
# What users may change about themselves; never preferred_username (the hub username) or email.
USER_WRITABLE_ATTRIBUTES = ["name", "given_name", "family_name", "locale", "zoneinfo"]


class CognitoLogin(pulumi.ComponentResource):
    """A user pool whose users sign in with their e-mail and cannot change their hub username."""

    def __init__(
        self,
        name: str,
        *,
        hub_url: str,
        user_pool_id: str,
        domain_url: str,
        domain_prefix: str,
        usernames: list[str],
        groups: list[str],
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("serverless-hub:aws:CognitoLogin", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        if user_pool_id:
            # An existing pool: the hub adds only its app client; users and groups are the pool's.
            self.user_pool_id = pulumi.Output.from_input(user_pool_id)
            self.domain_url = pulumi.Output.from_input(domain_url)
        else:
            pool = self._user_pool(name, protect, child)
            domain = aws.cognito.UserPoolDomain(
                name, domain=domain_prefix, user_pool_id=pool.id, opts=child
            )
            self.user_pool_id = pool.id
            region = aws.get_region_output().region
            self.domain_url = pulumi.Output.concat(
                "https://", domain.domain, ".auth.", region, ".amazoncognito.com"
            )
            self._users_and_groups(pool, usernames, groups, child)
        client = aws.cognito.UserPoolClient(
            name,
            name=f"{pulumi.get_project()}-{pulumi.get_stack()}",
            user_pool_id=self.user_pool_id,
            generate_secret=True,
            # The hosted UI's authorization code flow, and refresh tokens; no password flows.
            allowed_oauth_flows_user_pool_client=True,
            allowed_oauth_flows=["code"],
            allowed_oauth_scopes=SCOPES,
            supported_identity_providers=["COGNITO"],
            explicit_auth_flows=["ALLOW_REFRESH_TOKEN_AUTH"],
            callback_urls=[f"{hub_url}/hub/oauth_callback"],
            logout_urls=[f"{hub_url}/hub/login"],
            # An empty list would mean "every standard attribute", preferred_username included.
            write_attributes=USER_WRITABLE_ATTRIBUTES,
            prevent_user_existence_errors="ENABLED",
            enable_token_revocation=True,
            opts=child,
        )
        self.client_id = client.id
        self.client_secret = pulumi.Output.secret(client.client_secret)
        self.register_outputs(
            {"userPoolId": self.user_pool_id, "domainUrl": self.domain_url, "clientId": client.id}
        )

    @staticmethod
    def _user_pool(name: str, protect: bool, child) -> aws.cognito.UserPool:
        return aws.cognito.UserPool(
            name,
            name=f"{pulumi.get_project()}-{pulumi.get_stack()}",
            # E-mail and preferred_username are aliases: both sign in, and both are unique.
            alias_attributes=["email", "preferred_username"],
            auto_verified_attributes=["email"],
            username_configuration={"case_sensitive": False},
            # Only the program (an operator) makes users; nobody signs themselves up.
            admin_create_user_config={"allow_admin_create_user_only": True},
            account_recovery_setting={
                "recovery_mechanisms": [{"name": "verified_email", "priority": 1}]
            },
            deletion_protection="ACTIVE" if protect else "INACTIVE",
            opts=child,
        )

    @staticmethod
    def _users_and_groups(pool, usernames: list[str], groups: list[str], child) -> None:
        for username in usernames:
            if "@" not in username:
                pulumi.log.warn(
                    f"{username!r} is not an e-mail address, so no Cognito user is made for it: "
                    f"make one by hand with preferred_username {username!r}"
                )
                continue
            # Cognito e-mails the invitation; its own username is the home directory's name.
            aws.cognito.User(
                f"user-{username}",
                user_pool_id=pool.id,
                username=home_directory_for(username).rsplit("/", 1)[1],
                attributes={
                    "email": username,
                    "email_verified": "true",
                    "preferred_username": username,
                },
                desired_delivery_mediums=["EMAIL"],
                opts=child,
            )
        for group in groups:
            aws.cognito.UserGroup(f"group-{group}", name=group, user_pool_id=pool.id, opts=child)
