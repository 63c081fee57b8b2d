"""Where users' homes and the hub's database live: one encrypted, backed-up EFS file system."""

import json

import pulumi
import pulumi_aws as aws


class HubFiles(pulumi.ComponentResource):
    """EFS with a mount target per subnet and two entry points for the hub: /home and its data.

    Neither forces a uid: the hub makes each home, owned by its user's uid and private; its data
    directory is root's alone. Each user's server mounts its home through an access point of its
    own, which the hub makes (hub_image/servers_on_ecs.py).
    """

    def __init__(
        self,
        name: str,
        *,
        subnet_ids: list[str],
        security_group_id: pulumi.Input[str],
        server_role_arn: pulumi.Input[str],
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
        # role) may mount at all, and users' servers only through an access point, never the hub's.
        aws.efs.FileSystemPolicy(
            name,
            file_system_id=self.file_system.id,
            policy=pulumi.Output.all(
                self.file_system.arn, server_role_arn, self.homes.arn, self.hub_data.arn
            ).apply(lambda arns: file_system_policy(arns[0], arns[1], hub_access_points=arns[2:])),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.register_outputs({"fileSystemId": self.file_system.id})


def file_system_policy(
    file_system_arn: str, server_role_arn: str, hub_access_points: list[str]
) -> str:
    """TLS for everyone; a user's server, whose role has no policy, mounts by access point only,
    and never through the hub's own (all of /home with no uid enforced, or the hub's database)."""
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
                },
                {
                    "Sid": "UserServersThroughTheirAccessPoint",
                    "Effect": "Allow",
                    "Principal": {"AWS": server_role_arn},
                    "Action": ["elasticfilesystem:ClientMount", "elasticfilesystem:ClientWrite"],
                    "Resource": file_system_arn,
                    "Condition": {"Null": {"elasticfilesystem:AccessPointArn": "false"}},
                },
                {
                    "Sid": "UserServersNeverThroughTheHubs",
                    "Effect": "Deny",
                    "Principal": {"AWS": server_role_arn},
                    "Action": [
                        "elasticfilesystem:ClientMount",
                        "elasticfilesystem:ClientWrite",
                        "elasticfilesystem:ClientRootAccess",
                    ],
                    "Resource": file_system_arn,
                    "Condition": {
                        "ArnEquals": {"elasticfilesystem:AccessPointArn": list(hub_access_points)}
                    },
                },
            ],
        }
    )
