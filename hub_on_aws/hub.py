"""The hub on AWS: Cognito login, network, files, load balancer and service, wired together."""

import pulumi

from hub_on_aws.load_balancer import HubLoadBalancer
from hub_on_aws.login import CognitoLogin
from hub_on_aws.network import HubNetwork
from hub_on_aws.service import HubService
from hub_on_aws.settings import HubOnAws
from hub_on_aws.storage import HubFiles
from hub_on_aws.user_lists import HubUserLists


class Hub(pulumi.ComponentResource):
    """Everything `https://<hubDomain>` needs, running the image `image` (pinned by digest)."""

    def __init__(
        self,
        name: str,
        *,
        settings: HubOnAws,
        image: pulumi.Input[str],
        platform: str,
        repository_arn: pulumi.Input[str],
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
            usernames=sorted({*lists["adminUsers"], *lists["allowedUsers"]}),
            groups=sorted({*lists["adminGroups"], *lists["allowedGroups"]}),
            protect=protect,
            opts=child,
        )
        self.user_lists = HubUserLists(name, lists=lists, protect=protect, opts=child)
        network = HubNetwork(name, vpc_id=settings.vpc_id, opts=child)
        self.files = HubFiles(
            name,
            subnet_ids=settings.subnet_ids,
            security_group_id=network.files.id,
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
            repository_arn=repository_arn,
            # What the image needs besides its two secrets; the lists it reads from S3.
            environment={
                "USER_LISTS_URL": self.user_lists.url,
                "OAUTH_CLIENT_ID": self.login.client_id,
                "OAUTH_CALLBACK_URL": f"{self.url}/hub/oauth_callback",
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
            lists_object_arn=self.user_lists.object_arn,
            target_group_arn=self.load_balancer.target_group.arn,
            permissions_boundary=settings.permissions_boundary_arn,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.load_balancer]),
        )
        self.register_outputs({"hubUrl": self.url})
