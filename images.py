"""The operator's old image steps, for each image: its ECR repository, and a docker build, tag
and push to it. The hub's image and the users' servers' image each have their own."""

import json
from pathlib import Path

import pulumi
import pulumi_aws as aws
import pulumi_docker as docker

import image_tag


def repository(
    name: str, repository_name: str, keep_images: int, force_delete: bool
) -> aws.ecr.Repository:
    """aws ecr create-repository: immutable tags, so a tag always names one and the same image;
    the one exception is the build cache's tag, which moves to each new image."""
    made = aws.ecr.Repository(
        name,
        name=repository_name,
        image_tag_mutability="IMMUTABLE_WITH_EXCLUSION",
        image_tag_mutability_exclusion_filters=[
            {"filter": image_tag.BUILD_CACHE_TAG, "filter_type": "WILDCARD"}
        ],
        image_scanning_configuration={"scan_on_push": True},
        encryption_configurations=[{"encryption_type": "AES256"}],
        force_delete=force_delete,
    )
    # Old images expire, so the repository does not grow with every push.
    aws.ecr.LifecyclePolicy(
        name,
        repository=made.name,
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
                        # ECR evaluates a tagStatus "any" rule last: it needs the highest priority.
                        "rulePriority": 2,
                        "description": f"Keep the newest {keep_images} images",
                        "selection": {
                            "tagStatus": "any",
                            "countType": "imageCountMoreThan",
                            "countNumber": keep_images,
                        },
                        "action": {"type": "expire"},
                    },
                ]
            }
        ),
    )
    return made


def registry_login(repository: aws.ecr.Repository) -> docker.RegistryArgs:
    """aws ecr get-login-password: a short-lived token for the repositories' registry."""
    token = aws.ecr.get_authorization_token_output(registry_id=repository.registry_id)
    return docker.RegistryArgs(
        server=repository.repository_url.apply(lambda url: url.split("/", 1)[0]),
        username=token.user_name,
        password=pulumi.Output.secret(token.password),
    )


def push(
    name: str,
    repository: aws.ecr.Repository,
    registry: docker.RegistryArgs,
    sources: image_tag.ImageSources,
    args: dict[str, str],
    project_root: Path,
    platform: str,
    build_on_preview: bool,
) -> docker.Image:
    """docker build, tag and push, under a tag that digests the sources and these settings."""
    build = {
        "context": sources.context,
        "dockerfile": sources.dockerfile,
        "platform": platform,
        # The image records which of its steps made which layer, so a later build can reuse them.
        "args": {"BUILDKIT_INLINE_CACHE": "1"} | args,
    }
    tag = image_tag.tag_for(project_root, build, sources)
    # A fresh CI runner has no build cache: the last image pushed (under this tag) gives its layers.
    cache = repository.repository_url.apply(lambda url: f"{url}:{image_tag.BUILD_CACHE_TAG}")
    image = docker.Image(
        name,
        image_name=repository.repository_url.apply(lambda url: f"{url}:{tag}"),
        build=docker.DockerBuildArgs(**build, cache_from=docker.CacheFromArgs(images=[cache])),
        registry=registry,
        # A pull request whose image does not build fails its preview, not the deploy after merge.
        build_on_preview=build_on_preview,
    )
    # The cache tag moves to the new image: the same build, all cached, so only the tag is pushed.
    docker.Image(
        f"{name}-build-cache",
        image_name=cache,
        build=docker.DockerBuildArgs(**build),
        registry=registry,
        opts=pulumi.ResourceOptions(depends_on=[image]),
    )
    return image
