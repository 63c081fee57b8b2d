"""serverless-hub-bootstrap: once per AWS account, what CI needs to preview and deploy the hub.

Run with administrator credentials (docs/ci.md). It makes GitHub's OIDC provider (or trusts the
account's own), a preview role for pull requests that may only read, a deploy role for `main` and
the `prod` environment that may manage exactly what the main program declares, and the boundary
every role the main program makes must carry. What each role may do is in permissions.json.
"""

from pathlib import Path

import pulumi
import pulumi_aws as aws
import yaml

import policies

# The main program's project name: its roles' path and its resources' names start with it.
PROJECT = yaml.safe_load((Path(__file__).resolve().parents[1] / "Pulumi.yaml").read_text())["name"]

# 0. Settings, checked before anything is declared.
config = pulumi.Config()
try:
    repository = policies.check_repository(config.require("githubRepository"))
    existing_provider_arn = policies.check_oidc_provider_arn(config.require("oidcProviderArn"))
except ValueError as error:
    raise pulumi.RunError(str(error)) from None
pulumi_organization = config.require("pulumiOrganization")

identity = aws.get_caller_identity()
account, partition = identity.account_id, identity.arn.split(":")[1]
region = aws.get_region().region
permissions = policies.load()

# 1. GitHub's OIDC provider: the account's own if it has one (an account holds one per URL).
if existing_provider_arn:
    provider_arn = pulumi.Output.from_input(existing_provider_arn)
else:
    provider_arn = aws.iam.OpenIdConnectProvider(
        "github",
        url=f"https://{policies.GITHUB_ISSUER}",
        client_id_lists=[policies.AUDIENCE],
    ).arn

# 2. The boundary of every role the main program makes: what those roles may ever do.
boundary_name = f"{PROJECT}-boundary"
# Known before it exists, so the deploy role's documents are plain text (their number included).
boundary_arn = f"arn:{partition}:iam::{account}:policy/{boundary_name}"
scope = {"partition": partition, "region": region, "account": account, "project": PROJECT}
conditions = policies.constraints(
    boundary_arn=boundary_arn,
    region=region,
    kms_services=permissions["kmsServices"],
    linked_role_services=permissions["linkedRoleServices"],
)
[boundary_document] = policies.documents(
    policies.statements(permissions["boundary"], conditions=conditions, **scope)
)
boundary = aws.iam.Policy(
    "boundary",
    name=boundary_name,
    description=(
        f"The most any role {PROJECT} makes may do: no IAM but passing its roles to ECS tasks, "
        "no STS or Organizations."
    ),
    policy=boundary_document,
)

# 3. The roles, each trusted by its workflow's jobs only.
trusted_by = policies.subjects(repository)


def role(kind: str, description: str) -> aws.iam.Role:
    return aws.iam.Role(
        kind,
        name=f"{PROJECT}-{kind}",
        description=description,
        assume_role_policy=provider_arn.apply(
            lambda arn: policies.github_trust(arn, trusted_by[kind])
        ),
        # A `pulumi up` of the hub waits for ECS and the certificate: up to the jobs' 30 minutes.
        max_session_duration=3600,
    )


preview = role("preview", f"pulumi preview from pull requests of {repository}: reads only")
[preview_document] = policies.documents(
    policies.statements(permissions["preview"], conditions=conditions, **scope)
)
aws.iam.RolePolicy("preview", role=preview.id, policy=preview_document)

deploy = role("deploy", f"pulumi up from main and the prod environment of {repository}")
# More than one managed policy holds: the deploy role's list is longer than one document takes.
for index, document in enumerate(
    policies.documents(policies.statements(permissions["deploy"], conditions=conditions, **scope))
):
    policy = aws.iam.Policy(
        f"deploy-{index}",
        name=f"{PROJECT}-deploy-{index}",
        description=f"What `pulumi up` of {PROJECT} needs ({index + 1}; permissions.json)",
        policy=document,
    )
    aws.iam.RolePolicyAttachment(f"deploy-{index}", role=deploy.name, policy_arn=policy.arn)

# 4. Pulumi Cloud: GitHub's tokens for the same jobs buy an organization token (optional).
if pulumi_organization:
    import pulumi_pulumiservice as pulumiservice

    pulumiservice.OidcIssuer(
        "github",
        organization=pulumi_organization,
        name=f"github-{repository.replace('/', '-')}",
        url=f"https://{policies.GITHUB_ISSUER}",
        policies=[
            {
                "decision": "allow",
                "token_type": "organization",
                # Pulumi Cloud gives organization tokens through OIDC with admin rights only.
                "authorized_permissions": ["admin"],
                # pulumi/auth-actions asks for this audience.
                "rules": {"aud": f"urn:pulumi:org:{pulumi_organization}", "sub": subject},
            }
            for subject in [*trusted_by["preview"], *trusted_by["deploy"]]
        ],
    )

# 5. What to set in GitHub (docs/ci.md) and in each stack of the main program.
pulumi.export("region", region)
pulumi.export("previewRoleArn", preview.arn)
pulumi.export("deployRoleArn", deploy.arn)
pulumi.export("permissionsBoundaryArn", boundary.arn)
pulumi.export("oidcProviderArn", provider_arn)
