"""Where users' homes and the hub's database live: one encrypted, backed-up EFS file system."""

import json

import pulumi
import pulumi_aws as aws


class HubFiles(pulumi.ComponentResource):
    """EFS with a mount target per subnet and two entry points: /home and the hub's data.

    Neither entry point forces a uid, so each home keeps its owner's uid and stays private; the
    hub's own data directory is root's alone.
    """

    def __init__(
        self,
        name: str,
        *,
        subnet_ids: list[str],
        security_group_id: pulumi.Input[str],
        protect: bool,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("serverless-hub:aws:HubFiles", name, None, opts)
        child = pulumi.ResourceOptions(parent=self, protect=protect)
        self.file_system = aws.efs.FileSystem(
            name, encrypted=True, throughput_mode="elastic", tags={"Name": name}, opts=child
        )
        aws.efs.BackupPolicy(
            name,
            file_system_id=self.file_system.id,
            backup_policy={"status": "ENABLED"},
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.mount_targets = [
            aws.efs.MountTarget(
                f"{name}-{subnet_id}",
                file_system_id=self.file_system.id,
                subnet_id=subnet_id,
                security_groups=[security_group_id],
                opts=pulumi.ResourceOptions(parent=self),
            )
            for subnet_id in subnet_ids
        ]

        def entry(entry_name: str, path: str, permissions: str) -> aws.efs.AccessPoint:
            # Made root-owned on first use; no posix_user, so every process keeps its own uid.
            return aws.efs.AccessPoint(
                f"{name}-{entry_name}",
                file_system_id=self.file_system.id,
                root_directory={
                    "path": path,
                    "creation_info": {
                        "owner_uid": 0,
                        "owner_gid": 0,
                        "permissions": permissions,
                    },
                },
                opts=pulumi.ResourceOptions(parent=self),
            )

        self.homes = entry("homes", "/home", "755")
        self.hub_data = entry("hub-data", "/hub-data", "700")
        # Mounting needs TLS; with a policy in place, only IAM identities allowed to (the hub's task
        # role) may mount at all.
        aws.efs.FileSystemPolicy(
            name,
            file_system_id=self.file_system.id,
            policy=self.file_system.arn.apply(encrypted_transport_only),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"fileSystemId": self.file_system.id})


def encrypted_transport_only(file_system_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "EncryptedTransportOnly",
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "*",
                    "Resource": file_system_arn,
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )
