"""The hub on AWS: Cognito login, network, files, load balancer, the hub's service and what
users' servers run with, wired together."""

import pulumi

from hub_on_aws.live_settings import HubLiveSettings
from hub_on_aws.load_balancer import HubLoadBalancer
from hub_on_aws.login import CognitoLogin
from hub_on_aws.network import HubNetwork
from hub_on_aws.servers import UserServers
from hub_on_aws.service import HubService
from hub_on_aws.settings import HubOnAws
from hub_on_aws.storage import HubFiles


class Hub(pulumi.ComponentResource):
    """Everything `https://<hubDomain>` needs: the hub runs `image`, users' servers `user_image`
    (each pinned by digest)."""

    def __init__(
        self,
        name: str,
        *,
        settings: HubOnAws,
        image: pulumi.Input[str],
        user_image: pulumi.Input[str],
        platform: str,
        repository_arn: pulumi.Input[str],
        user_repository_arn: pulumi.Input[str],
        lists: dict[str, list[str]],
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("serverless-hub:aws:Hub", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.url = f"https://{settings.hub_domain}"
        self.login = CognitoLogin(
            name,
            hub_url=self.url,
            user_pool_id=settings.cognito_user_pool_id,
            domain_url=settings.cognito_domain,
            domain_prefix=settings.cognito_domain_prefix,
            pool_name=settings.user_pool_name,
            email_sender=email_sender(settings),
            usernames=sorted({*lists["adminUsers"], *lists["allowedUsers"]}),
            groups=sorted({*lists["adminGroups"], *lists["allowedGroups"]}),
            protect=protect,
            opts=child,
        )
        # A new user image or size rewrites the servers' object only: the hub keeps running.
        self.live = HubLiveSettings(
            name,
            lists=lists,
            servers={"image": user_image, "sizes": settings.server_sizes},
            protect=protect,
            opts=child,
        )
        network = HubNetwork(name, vpc_id=settings.vpc_id, opts=child)
        self.servers = UserServers(
            name,
            repository_arn=user_repository_arn,
            log_retention_days=settings.log_retention_days,
            permissions_boundary=settings.permissions_boundary_arn,
            opts=child,
        )
        self.files = HubFiles(
            name,
            subnet_ids=settings.subnet_ids,
            security_group_id=network.files.id,
            server_role_arn=self.servers.task_role.arn,
            protect=protect,
            opts=child,
        )
        self.load_balancer = HubLoadBalancer(
            name,
            hub_domain=settings.hub_domain,
            certificate_arn=settings.certificate_arn,
            hosted_zone_id=settings.hosted_zone_id,
            vpc_id=settings.vpc_id,
            subnet_ids=settings.subnet_ids,
            security_group_id=network.load_balancer.id,
            opts=child,
        )
        self.service = HubService(
            name,
            image=image,
            platform=platform,
            family=settings.task_family,
            repository_arn=repository_arn,
            # What the image needs besides its two secrets; the lists and servers it reads from S3.
            environment={
                "USER_LISTS_URL": self.live.url,
                "USER_SERVERS_URL": self.live.servers_url,
                "OAUTH_CLIENT_ID": self.login.client_id,
                "OAUTH_LOGIN_USERNAME_KEY": settings.username_claim,
                "OAUTH_CALLBACK_URL": f"{self.url}/hub/oauth_callback",
                # Each user's server on its own origin, https://<user>.<hubDomain>/.
                "PUBLIC_URL": self.url,
                "USER_SUBDOMAINS": "true",
                "COGNITO_DOMAIN": self.login.domain_url,
                "JUPYTERHUB_CULL_IDLE_TIMEOUT": str(settings.idle_timeout),
            },
            client_secret=self.login.client_secret,
            task_cpu=settings.task_cpu,
            task_memory=settings.task_memory,
            log_retention_days=settings.log_retention_days,
            subnet_ids=settings.subnet_ids,
            security_group_id=network.task.id,
            files=self.files,
            servers=self.servers,
            servers_security_group_id=network.servers.id,
            live_object_arns=self.live.object_arns,
            # The hub refuses to start without its lists: they are written before it starts.
            waits_for=[self.live.object, self.live.servers_object],
            target_group_arn=self.load_balancer.target_group.arn,
            permissions_boundary=settings.permissions_boundary_arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.load_balancer]),
        )
        self.register_outputs({"hubUrl": self.url})


def email_sender(settings: HubOnAws) -> dict:
    """How the pool sends invitations: through the operator's SES identity, or Cognito's own."""
    if not settings.ses_identity_arn:
        return {"email_sending_account": "COGNITO_DEFAULT"}
    sender = {"email_sending_account": "DEVELOPER", "source_arn": settings.ses_identity_arn}
    if settings.email_from:
        sender["from_email_address"] = settings.email_from
    return sender
