"""Who may talk to whom: the internet to the load balancer, it to the hub, the hub to users'
servers and back to its API, the hub and the servers to the files. No server reaches another."""

import pulumi
import pulumi_aws as aws

from hub_image.servers import SERVER_PORT

HUB_PORT = 8000
# JupyterHub's own API, which each user's server calls (its hub_connect_url).
HUB_API_PORT = 8081
NFS_PORT = 2049
ANYWHERE = {"cidr_ipv4": "0.0.0.0/0"}


class HubNetwork(pulumi.ComponentResource):
    """Four security groups, each admitting only what must reach it, on exactly one port."""

    def __init__(self, name: str, *, vpc_id: str, opts: pulumi.ResourceOptions | None = None):
        super().__init__("serverless-hub:aws:HubNetwork", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)

        def group(role: str, description: str) -> aws.ec2.SecurityGroup:
            return aws.ec2.SecurityGroup(
                f"{name}-{role}", vpc_id=vpc_id, description=description, opts=child
            )

        # No apostrophes: EC2 refuses them here (service_rules holds the characters it takes).
        self.load_balancer = group("load-balancer", "Hub load balancer: HTTPS from anywhere")
        self.task = group("task", "Hub task: its port, from the load balancer only")
        self.servers = group("servers", "User servers: their port, from the hub task only")
        self.files = group("files", "Hub file system: NFS, from the hub task and user servers")

        def rule(kind, rule_name: str, group_, port: int, **peer):
            kind(
                f"{name}-{rule_name}",
                security_group_id=group_.id,
                ip_protocol="tcp",
                from_port=port,
                to_port=port,
                opts=child,
                **peer,
            )

        def between(rule_name: str, source, target, port: int):
            """The source may send to the target on this port, and the target admits it."""
            rule(egress, f"{rule_name}-out", source, port, referenced_security_group_id=target.id)
            rule(ingress, f"{rule_name}-in", target, port, referenced_security_group_id=source.id)

        ingress, egress = aws.vpc.SecurityGroupIngressRule, aws.vpc.SecurityGroupEgressRule
        for port in (80, 443):
            rule(ingress, f"web-{port}", self.load_balancer, port, **ANYWHERE)
            rule(ingress, f"web-{port}-ipv6", self.load_balancer, port, cidr_ipv6="::/0")
        between("load-balancer-to-task", self.load_balancer, self.task, HUB_PORT)
        between("task-to-files", self.task, self.files, NFS_PORT)
        between("task-to-servers", self.task, self.servers, SERVER_PORT)
        between("servers-to-hub-api", self.servers, self.task, HUB_API_PORT)
        between("servers-to-files", self.servers, self.files, NFS_PORT)
        # Cognito, ECR, ECS, EFS, S3, Secrets Manager, CloudWatch Logs: all HTTPS.
        rule(egress, "task-to-https", self.task, 443, **ANYWHERE)
        # ECR and CloudWatch Logs for ECS, and users' package installs.
        rule(egress, "servers-to-https", self.servers, 443, **ANYWHERE)
        self.register_outputs({})
