"""What the running hub reads again, so that a change needs no restart: who may use it (the
lists), and what users' servers run (the user image and the sizes). Two JSON objects in a private
S3 bucket of the hub's own.

A users-only change rewrites the lists object and nothing else: no new image, no new task, and
the hub picks it up within its refresh interval. A new user image rewrites the servers object:
new servers run it, running ones and the hub carry on. (A parameter in Parameter Store would hold
4 KB, or 8 KB advanced: a big course lists thousands of names.)
"""

import json

import pulumi
import pulumi_aws as aws

KEY = "user-lists.json"
SERVERS_KEY = "user-servers.json"


class HubLiveSettings(pulumi.ComponentResource):
    """A private, encrypted, versioned bucket holding the lists and the servers' settings."""

    def __init__(
        self,
        name: str,
        *,
        lists: dict[str, list[str]],
        servers: dict[str, pulumi.Input],
        protect: bool,
        opts=None,
    ):
        super().__init__("serverless-hub:aws:HubLiveSettings", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        bucket = aws.s3.Bucket(name, force_destroy=not protect, opts=child)
        aws.s3.BucketPublicAccessBlock(
            name,
            bucket=bucket.id,
            block_public_acls=True,
            block_public_policy=True,
            ignore_public_acls=True,
            restrict_public_buckets=True,
            opts=child,
        )
        aws.s3.BucketOwnershipControls(
            name, bucket=bucket.id, rule={"object_ownership": "BucketOwnerEnforced"}, opts=child
        )
        aws.s3.BucketServerSideEncryptionConfiguration(
            name,
            bucket=bucket.id,
            rules=[{"apply_server_side_encryption_by_default": {"sse_algorithm": "AES256"}}],
            opts=child,
        )
        # Every earlier version of the lists stays: who had access when can be looked up.
        aws.s3.BucketVersioning(
            name, bucket=bucket.id, versioning_configuration={"status": "Enabled"}, opts=child
        )
        self.object = aws.s3.BucketObjectv2(
            name,
            bucket=bucket.id,
            key=KEY,
            content=json.dumps(lists, indent=1, sort_keys=True),
            content_type="application/json",
            opts=child,
        )
        # The user image by digest, and the sizes users may pick.
        self.servers_object = aws.s3.BucketObjectv2(
            f"{name}-servers",
            bucket=bucket.id,
            key=SERVERS_KEY,
            content=pulumi.Output.from_input(servers).apply(
                lambda value: json.dumps(value, indent=1, sort_keys=True)
            ),
            content_type="application/json",
            opts=child,
        )
        self.url = pulumi.Output.concat("s3://", bucket.bucket, "/", KEY)
        self.servers_url = pulumi.Output.concat("s3://", bucket.bucket, "/", SERVERS_KEY)
        self.object_arns = [
            pulumi.Output.concat(bucket.arn, "/", key) for key in (KEY, SERVERS_KEY)
        ]
        self.register_outputs({"url": self.url, "serversUrl": self.servers_url})
