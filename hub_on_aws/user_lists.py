"""Who may use the hub, where the running hub reads it: one JSON object in a private S3 bucket.

A users-only change then rewrites this object and nothing else: no new image, no new task, and
the hub picks it up within its refresh interval, without a restart. (A parameter in Parameter
Store would hold 4 KB, or 8 KB advanced: a big course lists thousands of names.)
"""

import json

import pulumi
import pulumi_aws as aws

KEY = "user-lists.json"


class HubUserLists(pulumi.ComponentResource):
    """A private, encrypted, versioned bucket of the hub's own, holding the lists as JSON."""

    def __init__(self, name: str, *, lists: dict[str, list[str]], protect: bool, opts=None):
        super().__init__("serverless-hub:aws:HubUserLists", name, None, opts)
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
        self.url = pulumi.Output.concat("s3://", bucket.bucket, "/", KEY)
        self.object_arn = pulumi.Output.concat(bucket.arn, "/", KEY)
        self.register_outputs({"url": self.url})
