"""The bootstrap's policy documents, built from permissions.json and the account they go into.

permissions.json says, for each IAM action CI's roles need, the ARN formats of the resource types
AWS's service authorization reference requires for it and the condition keys below it supports
(bootstrap/derive.py writes it). This module fills in the account, region and the project's names,
and adds the conditions. Pure functions: the program and the tests call them alike.
"""

import json
import re
from pathlib import Path

PERMISSIONS = Path(__file__).resolve().parent / "permissions.json"
GITHUB_ISSUER = "token.actions.githubusercontent.com"
# The audience aws-actions/configure-aws-credentials asks GitHub's tokens for.
AUDIENCE = "sts.amazonaws.com"
# GitHub's rules for an owner (39 characters, no leading hyphen) and a repository name.
_REPOSITORY = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,38}/[A-Za-z0-9._-]{1,100}")
_OIDC_PROVIDER_ARN = re.compile(
    rf"arn:aws[a-z-]*:iam::\d{{12}}:oidc-provider/{re.escape(GITHUB_ISSUER)}"
)
# A managed policy document holds at most 6,144 characters, whitespace not counted (IAM quotas).
POLICY_SIZE_LIMIT = 6144
# Past this many resource types (ec2:CreateTags acts on some 90), an action is scoped to its
# service's resources in the account and region instead of to each type.
MAX_RESOURCE_TYPES = 12


def check_repository(value: str) -> str:
    if not _REPOSITORY.fullmatch(value) or value.split("/")[1] in (".", ".."):
        raise ValueError(
            f"githubRepository: {value!r} is not a GitHub repository as owner/name, e.g. "
            "octo-org/serverless-hub (pulumi config set githubRepository ...)"
        )
    return value


def check_oidc_provider_arn(value: str) -> str:
    if value and not _OIDC_PROVIDER_ARN.fullmatch(value):
        raise ValueError(
            f"oidcProviderArn: {value!r} is not the ARN of GitHub's OIDC provider, e.g. "
            f"arn:aws:iam::123456789012:oidc-provider/{GITHUB_ISSUER} "
            "(aws iam list-open-id-connect-providers; or leave it empty to make one)"
        )
    return value


def subjects(repository: str) -> dict[str, list[str]]:
    """The OIDC subjects GitHub gives each workflow job, by the role that trusts them."""
    return {
        # preview.yml runs on pull requests.
        "preview": [f"repo:{repository}:pull_request"],
        # deploy.yml's dev job has no environment, so its subject is the branch; prod's is its own.
        "deploy": [f"repo:{repository}:ref:refs/heads/main", f"repo:{repository}:environment:prod"],
    }


def github_trust(provider_arn: str, subject: list[str]) -> str:
    """Who may assume a role: GitHub's tokens for these subjects, asked for AWS's audience."""
    return _document(
        {
            "Effect": "Allow",
            "Principal": {"Federated": provider_arn},
            "Action": "sts:AssumeRoleWithWebIdentity",
            "Condition": {
                "StringEquals": {
                    f"{GITHUB_ISSUER}:aud": AUDIENCE,
                    f"{GITHUB_ISSUER}:sub": subject[0] if len(subject) == 1 else subject,
                }
            },
        }
    )


def load() -> dict:
    return json.loads(PERMISSIONS.read_text())


def name_scopes(project: str, action: str) -> dict[str, str]:
    """The names the main program gives, for the ARN formats' variables; every other one is *."""
    if action == "iam:CreateServiceLinkedRole":
        # AWS puts service-linked roles under this path, whoever asks for them.
        return {"RoleNameWithPath": "aws-service-role/*"}
    return {
        # Its default repository name is <project>-<stack>.
        "RepositoryName": f"{project}-*",
        # Every role it makes lives under the path /<project>/ (hub_on_aws/service.py).
        "RoleNameWithPath": f"{project}/*",
        # Its task definition family is <project>-<stack>.
        "TaskDefinitionFamilyName": f"{project}-*",
    }


def constraints(
    *, boundary_arn: str, region: str, kms_services: list[str], linked_role_services: list[str]
) -> dict[str, dict]:
    """The condition each action gets for each of these keys it supports."""
    return {
        # A role is made, given policies or a new boundary only with the bootstrap's boundary.
        # The key is an ARN: ArnEquals is IAM's operator for it.
        "iam:PermissionsBoundary": {"ArnEquals": {"iam:PermissionsBoundary": boundary_arn}},
        # Roles go to ECS tasks only.
        "iam:PassedToService": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        # Only the service-linked roles of the services the hub uses.
        "iam:AWSServiceName": {"StringEquals": {"iam:AWSServiceName": linked_role_services}},
        # Keys are used only through the services that encrypt the hub's resources.
        "kms:ViaService": {
            "StringEquals": {
                "kms:ViaService": [f"{service}.{region}.amazonaws.com" for service in kms_services]
            }
        },
    }


def statements(
    actions: dict[str, dict],
    *,
    partition: str,
    region: str,
    account: str,
    project: str,
    conditions: dict[str, dict],
) -> list[dict]:
    """One statement per set of resources and condition: the actions' ARNs in this account."""

    def arn(template: str, action: str) -> str:
        known = {"Partition": partition, "Region": region, "Account": account}
        known |= name_scopes(project, action)
        return re.sub(r"\$\{(\w+)\}", lambda m: known.get(m[1], "*"), template)

    grouped: dict[tuple, list[str]] = {}
    for action, entry in sorted(actions.items()):
        # No resource-level permissions for this action: IAM wants "*".
        resources = tuple(sorted({arn(t, action) for t in entry["resources"]})) or ("*",)
        if len(resources) > MAX_RESOURCE_TYPES:
            prefix, region_part, account_part = action.split(":")[0], region, account
            resources = (f"arn:{partition}:{prefix}:{region_part}:{account_part}:*",)
        condition = {}
        for key in entry["conditionKeys"]:
            for operator, values in conditions[key].items():
                condition.setdefault(operator, {}).update(values)
        grouped.setdefault((resources, json.dumps(condition, sort_keys=True)), []).append(action)
    return [
        {
            "Effect": "Allow",
            "Action": group,
            "Resource": list(resources) if len(resources) > 1 else resources[0],
        }
        | ({"Condition": json.loads(condition)} if condition != "{}" else {})
        for (resources, condition), group in sorted(grouped.items(), key=lambda item: item[1])
    ]


def documents(all_statements: list[dict], limit: int = POLICY_SIZE_LIMIT) -> list[str]:
    """The statements in as few policy documents as fit IAM's size limit, in order."""
    chunks: list[list[dict]] = [[]]
    for statement in all_statements:
        if chunks[-1] and size(_document(*chunks[-1], statement)) > limit:
            chunks.append([])
        chunks[-1].append(statement)
    return [_document(*chunk) for chunk in chunks if chunk]


def size(document: str) -> int:
    """A document's length as IAM counts it: without whitespace."""
    return len(re.sub(r"\s", "", document))


def _document(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)}, indent=1)
