"""Users' servers on AWS: what the hub needs to run each as a Fargate task of its own.

The hub itself starts, finds and stops the tasks (hub_image/servers_on_ecs.py), and makes each
user's EFS access point and task definition at their first start: the lists do not name every
user (a Cognito group admits people the program never sees), and a file system holds up to
10,000 access points, enough for any one hub. What the program declares is what those tasks
share: their log group and the two roles they run with.
"""

import pulumi
import pulumi_aws as aws

from hub_on_aws.service import ecs_task_role, execution_policy


class UserServers(pulumi.ComponentResource):
    """The user servers' log group, execution role (pull, log) and task role (no permissions)."""

    def __init__(
        self,
        name: str,
        *,
        repository_arn: pulumi.Input[str],
        log_retention_days: int,
        permissions_boundary: str,
        opts: pulumi.ResourceOptions | None = None,
    ):
        super().__init__("serverless-hub:aws:UserServers", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.log_group = aws.cloudwatch.LogGroup(
            f"{name}-servers", retention_in_days=log_retention_days, opts=child
        )
        self.execution_role = ecs_task_role(
            f"{name}-servers-execution",
            pulumi.Output.all(repository_arn, self.log_group.arn).apply(
                lambda arns: execution_policy(*arns)
            ),
            child,
            permissions_boundary,
        )
        # A user's code can use its task's credentials: they may do nothing. The file system's
        # own policy lets the role mount a home through its access point (hub_on_aws/storage.py).
        self.task_role = ecs_task_role(f"{name}-servers-task", None, child, permissions_boundary)
        self.register_outputs({"logGroupName": self.log_group.name})
