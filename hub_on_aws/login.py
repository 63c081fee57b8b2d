"""The hub's Cognito login: a user pool (or an existing one), its hosted UI, the app client."""

import re

import pulumi
import pulumi_aws as aws

# What the hub asks for; openid gives the ID token, which carries cognito:groups.
SCOPES = ["openid", "profile", "email"]
# What users may change about themselves: never their e-mail, where invitations and resets go.
USER_WRITABLE_ATTRIBUTES = ["name", "given_name", "family_name", "locale", "zoneinfo"]
# Days an invitation's temporary password works; after that, resend it (docs/managing-users.md).
INVITATION_VALID_DAYS = 7
# Cognito's own e-mail sends at most this many messages a day for the account and region
# (Cognito developer guide, quotas.html); past it, creating a user fails.
COGNITO_EMAILS_PER_DAY = 50
_EMAIL_ADDRESS = re.compile(r"[^@\s]+@[^@\s]+")


class CognitoLogin(pulumi.ComponentResource):
    """A user pool whose users sign in with a username nobody can change: their hub username."""

    def __init__(
        self,
        name: str,
        *,
        hub_url: str,
        user_pool_id: str,
        domain_url: str,
        domain_prefix: str,
        pool_name: str,
        email_sender: dict,
        usernames: list[str],
        groups: list[str],
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("serverless-hub:aws:CognitoLogin", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.users: list[str] = []
        if user_pool_id:
            # An existing pool: the hub adds only its app client; users and groups are the pool's.
            self.user_pool_id = pulumi.Output.from_input(user_pool_id)
            self.domain_url = pulumi.Output.from_input(domain_url)
        else:
            pool = self._user_pool(name, pool_name, email_sender, protect, child)
            domain = aws.cognito.UserPoolDomain(
                name, domain=domain_prefix, user_pool_id=pool.id, opts=child
            )
            self.user_pool_id = pool.id
            region = aws.get_region_output().region
            self.domain_url = pulumi.Output.concat(
                "https://", domain.domain, ".auth.", region, ".amazoncognito.com"
            )
            self.users = self._users_and_groups(pool, usernames, groups, child)
            if email_sender["email_sending_account"] == "COGNITO_DEFAULT":
                _warn_past_the_daily_emails(self.users, child)
        client = aws.cognito.UserPoolClient(
            name,
            name=pool_name,
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
    def _user_pool(name, pool_name, email_sender, protect, child) -> aws.cognito.UserPool:
        return aws.cognito.UserPool(
            name,
            name=pool_name,
            # People sign in with their username, which nobody can change: it is the hub username.
            # No alias attributes: Cognito refuses one at creation, and an e-mail-shaped username
            # beside an email alias.
            username_configuration={"case_sensitive": False},
            auto_verified_attributes=["email"],
            # Only the program (an operator) makes users; nobody signs themselves up.
            admin_create_user_config={"allow_admin_create_user_only": True},
            # Cognito's own policy, written out: a policy given in part loosens the rest.
            password_policy={
                "minimum_length": 8,
                "require_lowercase": True,
                "require_uppercase": True,
                "require_numbers": True,
                "require_symbols": True,
                "temporary_password_validity_days": INVITATION_VALID_DAYS,
            },
            email_configuration=email_sender,
            account_recovery_setting={
                "recovery_mechanisms": [{"name": "verified_email", "priority": 1}]
            },
            deletion_protection="ACTIVE" if protect else "INACTIVE",
            opts=child,
        )

    @staticmethod
    def _users_and_groups(pool, usernames: list[str], groups: list[str], child) -> list[str]:
        """A Cognito user per listed e-mail address, named as the hub names them; their names."""
        invited = []
        for username in usernames:
            if not _EMAIL_ADDRESS.fullmatch(username):
                pulumi.log.warn(
                    f"{username!r} is not an e-mail address, so no Cognito user is made for it "
                    f"(an invitation needs one): make it by hand with the username {username!r} "
                    "and their e-mail (docs/managing-users.md)"
                )
                continue
            # Cognito e-mails the invitation: their username, and a temporary password.
            aws.cognito.User(
                f"user-{username}",
                user_pool_id=pool.id,
                username=username,
                attributes={"email": username, "email_verified": "true"},
                desired_delivery_mediums=["EMAIL"],
                opts=child,
            )
            invited.append(username)
        for group in groups:
            aws.cognito.UserGroup(f"group-{group}", name=group, user_pool_id=pool.id, opts=child)
        return invited


def _warn_past_the_daily_emails(users: list[str], child: pulumi.ResourceOptions) -> None:
    """Warn when this update invites more people than Cognito's own e-mail sends in a day.

    Who was invited before is this stack's own last `cognitoUsers` output (a stack may read its
    own outputs: those of its last completed update; none before the first).
    """
    stack = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    earlier = pulumi.StackReference(stack, opts=child).get_output("cognitoUsers")

    def warn(invited_before) -> None:
        new = sorted(set(users) - set(invited_before or []))
        if len(new) > COGNITO_EMAILS_PER_DAY:
            pulumi.log.warn(
                f"{len(new)} people get a Cognito invitation in this update, more than the "
                f"{COGNITO_EMAILS_PER_DAY} e-mails a day Cognito's own e-mail sends for the "
                "account; past that, creating users fails and `pulumi up` stops part-way. Set "
                "sesIdentityArn (docs/first-deploy.md), or add at most "
                f"{COGNITO_EMAILS_PER_DAY} people a day"
            )

    earlier.apply(warn)
