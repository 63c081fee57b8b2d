"""serverless-hub: the operator's old manual steps, as one `pulumi up` per stack."""

from pathlib import Path

import pulumi

import image_tag
import images
import stack_settings
from hub_on_aws import settings as hub_settings
from hub_on_aws.hub import Hub

PROJECT_ROOT = Path(__file__).resolve().parent

# 0. Read and check every setting first, so bad input stops the run before anything is declared.
settings = stack_settings.read(pulumi.Config(), pulumi.get_stack())
# With a hubDomain, the program runs the hub too; without one, it stops at the image.
on_aws = hub_settings.read(pulumi.Config(), settings.platform)

# 1. aws ecr create-repository: one for the hub's image, one for the image of users' servers.
hub_repository = images.repository(
    "hub", settings.repository_name, settings.keep_images, settings.force_delete
)
user_repository = images.repository(
    "user", settings.user_repository_name, settings.keep_images, settings.force_delete
)

# 2. aws ecr get-login-password: a short-lived token for their registry.
registry = images.registry_login(hub_repository)

# 3. docker build, tag, login and push, for each image (sources get the modes git records first).
image_tag.give_sources_their_git_modes(PROJECT_ROOT)
lists_in_image = {}
if not on_aws:
    # Image only: the lists are the hub image's last lines. On AWS they live in S3 (step 5), so a
    # users-only change builds no new image and restarts nobody.
    lists_in_image = {
        "ADMIN_USERS": ",".join(settings.admin_users),
        "ALLOWED_USERS": ",".join(settings.allowed_users),
        "ADMIN_GROUPS": ",".join(settings.admin_groups),
        "ALLOWED_GROUPS": ",".join(settings.allowed_groups),
    }
built_as = {
    "project_root": PROJECT_ROOT,
    "platform": settings.platform,
    "build_on_preview": settings.build_on_preview,
}
hub_image = images.push("hub", hub_repository, registry, image_tag.HUB, lists_in_image, **built_as)
user_image = images.push("user", user_repository, registry, image_tag.USER, {}, **built_as)

# 4. What the deploy side needs: the ARNs for permissions, and the digests to pin the images by.
pulumi.export("repositoryUrl", hub_repository.repository_url)
pulumi.export("repositoryArn", hub_repository.arn)
pulumi.export("registryId", hub_repository.registry_id)
pulumi.export("imageName", hub_image.image_name)
pulumi.export("imageDigest", hub_image.repo_digest)
pulumi.export("userRepositoryUrl", user_repository.repository_url)
pulumi.export("userRepositoryArn", user_repository.arn)
pulumi.export("userImageName", user_image.image_name)
pulumi.export("userImageDigest", user_image.repo_digest)
pulumi.export("adminUsers", settings.admin_users)
pulumi.export("allowedUsers", settings.allowed_users)
pulumi.export("adminGroups", settings.admin_groups)
pulumi.export("allowedGroups", settings.allowed_groups)

# 5. The hub itself at https://<hubDomain>, running exactly the images above (by their digests).
if on_aws:
    hub = Hub(
        "hub",
        settings=on_aws,
        image=hub_image.repo_digest,
        user_image=user_image.repo_digest,
        platform=settings.platform,
        repository_arn=hub_repository.arn,
        user_repository_arn=user_repository.arn,
        lists={
            "adminUsers": settings.admin_users,
            "allowedUsers": settings.allowed_users,
            "adminGroups": settings.admin_groups,
            "allowedGroups": settings.allowed_groups,
        },
        protect=not settings.force_delete,
    )
    pulumi.export("hubUrl", hub.url)
    pulumi.export("loadBalancerDnsName", hub.load_balancer.load_balancer.dns_name)
    pulumi.export("cognitoUserPoolId", hub.login.user_pool_id)
    pulumi.export("cognitoDomain", hub.login.domain_url)
    pulumi.export("cognitoClientId", hub.login.client_id)
    # The Cognito users the program made; the next preview counts its new invitations from it.
    pulumi.export("cognitoUsers", hub.login.users)
    pulumi.export("clusterName", hub.service.cluster.name)
    pulumi.export("serviceName", hub.service.service.name)
    pulumi.export("fileSystemId", hub.files.file_system.id)
    pulumi.export("logGroupName", hub.service.log_group.name)
    pulumi.export("serversLogGroupName", hub.servers.log_group.name)
