"""serverless-hub: the operator's old manual steps, as one `pulumi up` per stack."""

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

import image_tag
import stack_settings
from hub_on_aws import settings as hub_settings
from hub_on_aws.hub import Hub

PROJECT_ROOT = Path(__file__).resolve().parent

# 0. Read and check every setting first, so bad input stops the run before anything is declared.
settings = stack_settings.read(pulumi.Config(), pulumi.get_stack())
# With a hubDomain, the program runs the hub too; without one, it stops at the image.
on_aws = hub_settings.read(pulumi.Config(), settings.platform)

# 1. aws ecr create-repository: immutable tags, so a tag always names one and the same image; the
# one exception is the build cache's tag, which moves to each new image.
repository = aws.ecr.Repository(
    "hub",
    name=settings.repository_name,
    image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
    image_tag_mutability_exclusion_filters=[
        {"filter": image_tag.BUILD_CACHE_TAG, "filter_type": "WILDCARD"}
    ],
    image_scanning_configuration={"scan_on_push": True},
    encryption_configurations=[{"encryption_type": "AES256"}],
    force_delete=settings.force_delete,
)

# Old images expire, so the repository does not grow with every push.
aws.ecr.LifecyclePolicy(
    "hub",
    repository=repository.name,
    policy=json.dumps(
        {
            "rules": [
                {
                    "rulePriority": 1,
                    "description": "Expire untagged images after a day",
                    "selection": {
                        "tagStatus": "untagged",
                        "countType": "sinceImagePushed",
                        "countUnit": "days",
                        "countNumber": 1,
                    },
                    "action": {"type": "expire"},
                },
                {
                    # ECR evaluates a tagStatus "any" rule last, so it needs the highest priority.
                    "rulePriority": 2,
                    "description": f"Keep the newest {settings.keep_images} images",
                    "selection": {
                        "tagStatus": "any",
                        "countType": "imageCountMoreThan",
                        "countNumber": settings.keep_images,
                    },
                    "action": {"type": "expire"},
                },
            ]
        }
    ),
)

# 2. aws ecr get-login-password: a short-lived token for this repository's registry.
token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)

# 3. docker build, tag, login and push. Context "." is the project root: Pulumi runs from there.
build = {
    "context": ".",
    "dockerfile": image_tag.DOCKERFILE,
    "platform": settings.platform,
    # The image records which of its steps made which layer, so a later build can reuse them.
    "args": {"BUILDKIT_INLINE_CACHE": "1"},
}
if not on_aws:
    # Image only: the lists are the image's last lines. On AWS they live in S3 (step 5) instead,
    # so a users-only change builds no new image and restarts nobody.
    build["args"] |= {
        "ADMIN_USERS": ",".join(settings.admin_users),
        "ALLOWED_USERS": ",".join(settings.allowed_users),
        "ADMIN_GROUPS": ",".join(settings.admin_groups),
        "ALLOWED_GROUPS": ",".join(settings.allowed_groups),
    }
# The tag digests the sources and these settings: the image is rebuilt only under a new tag.
image_tag.give_sources_their_git_modes(PROJECT_ROOT)
tag = image_tag.tag_for(PROJECT_ROOT, build)
registry = docker.RegistryArgs(
    server=repository.repository_url.apply(lambda url: url.split("/", 1)[0]),
    username=token.user_name,
    password=pulumi.Output.secret(token.password),
)
# A fresh CI runner has no build cache: the last image pushed (under this tag) gives its layers.
build_cache = repository.repository_url.apply(lambda url: f"{url}:{image_tag.BUILD_CACHE_TAG}")
image = docker.Image(
    "hub",
    image_name=repository.repository_url.apply(lambda url: f"{url}:{tag}"),
    build=docker.DockerBuildArgs(**build, cache_from=docker.CacheFromArgs(images=[build_cache])),
    registry=registry,
    # A pull request whose image does not build fails its preview, not the deploy after the merge.
    build_on_preview=settings.build_on_preview,
)
# The cache tag moves to the new image: the same build, all cached here, so only the tag is pushed.
docker.Image(
    "hub-build-cache",
    image_name=build_cache,
    build=docker.DockerBuildArgs(**build),
    registry=registry,
    opts=pulumi.ResourceOptions(depends_on=[image]),
)

# 4. What the deploy side needs: the ARN for permissions, and the digest to pin the image by.
pulumi.export("repositoryUrl", repository.repository_url)
pulumi.export("repositoryArn", repository.arn)
pulumi.export("registryId", repository.registry_id)
pulumi.export("imageName", image.image_name)
pulumi.export("imageDigest", image.repo_digest)
pulumi.export("adminUsers", settings.admin_users)
pulumi.export("allowedUsers", settings.allowed_users)
pulumi.export("adminGroups", settings.admin_groups)
pulumi.export("allowedGroups", settings.allowed_groups)

# 5. The hub itself at https://<hubDomain>, running exactly the image above (by its digest).
if on_aws:
    hub = Hub(
        "hub",
        settings=on_aws,
        image=image.repo_digest,
        platform=settings.platform,
        repository_arn=repository.arn,
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
