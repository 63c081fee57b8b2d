"""The bootstrap program under Pulumi's mocks: GitHub's provider, who may assume which role, the
boundary, Pulumi Cloud's issuer, the outputs and every bad setting."""

import json

import pulumi
import pytest

from bootstrap import policies
from local.program import ConfigRefused, cli_config
from tests.bootstrap.conftest import (
    ACCOUNT,
    BOOTSTRAP,
    BOUNDARY_ARN,
    REPOSITORY,
    SETTINGS,
    resources,
    run_bootstrap,
)

PROVIDER_ARN = f"arn:aws:iam::{ACCOUNT}:oidc-provider/token.actions.githubusercontent.com"
ROLE = "aws:iam/role:Role"


def trust(declared, name: str) -> dict:
    [role] = [r for r in resources(declared, ROLE) if r.name == name]
    return json.loads(role.inputs["assumeRolePolicy"])


def test_its_settings_are_its_own_project_s(bootstrapped):
    config = cli_config(SETTINGS, stack="account", project_root=BOOTSTRAP)
    assert config == {
        "serverless-hub-bootstrap:githubRepository": REPOSITORY,
        "serverless-hub-bootstrap:oidcProviderArn": "",
        "serverless-hub-bootstrap:pulumiOrganization": "",
    }


def test_githubs_oidc_provider_is_made_for_stss_audience(bootstrapped):
    [provider] = resources(bootstrapped, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs == {
        "url": "https://token.actions.githubusercontent.com",
        "clientIdLists": ["sts.amazonaws.com"],
    }


@pytest.mark.parametrize(
    ("role", "subjects"),
    [
        ("preview", ["repo:octo-org/serverless-hub:pull_request"]),
        (
            "deploy",
            [
                "repo:octo-org/serverless-hub:ref:refs/heads/main",
                "repo:octo-org/serverless-hub:environment:prod",
            ],
        ),
    ],
)
def test_each_role_is_trusted_by_its_jobs_only(bootstrapped, role, subjects):
    [statement] = trust(bootstrapped, role)["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Principal"] == {"Federated": PROVIDER_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    # Exact matches only: no StringLike, so no other branch, environment or repository fits.
    sub = statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"]
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": sub,
        }
    }
    assert ([sub] if isinstance(sub, str) else sub) == subjects


def test_the_roles_are_named_for_the_github_variables_and_outside_the_hubs_path(bootstrapped):
    roles = {r.name: r.inputs for r in resources(bootstrapped, ROLE)}
    assert {name: inputs["name"] for name, inputs in roles.items()} == {
        "preview": "serverless-hub-preview",
        "deploy": "serverless-hub-deploy",
    }
    # Not under /serverless-hub/, where the deploy role may change roles.
    assert all("path" not in inputs for inputs in roles.values())


def test_an_existing_provider_is_trusted_and_none_is_made():
    existing = PROVIDER_ARN.replace(ACCOUNT, "210987654321")
    declared = run_bootstrap(SETTINGS | {"oidcProviderArn": existing})
    assert not resources(declared, "aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    for role in ("preview", "deploy"):
        assert trust(declared, role)["Statement"][0]["Principal"] == {"Federated": existing}
    assert declared.outputs["oidcProviderArn"].value == existing


def test_the_boundary_is_the_policy_its_output_names(bootstrapped):
    [boundary] = [
        r for r in resources(bootstrapped, "aws:iam/policy:Policy") if r.name == "boundary"
    ]
    assert boundary.inputs["name"] == "serverless-hub-boundary"
    assert bootstrapped.outputs["permissionsBoundaryArn"].value == BOUNDARY_ARN


def test_every_deploy_policy_is_attached_to_the_deploy_role_and_fits_iams_limits(bootstrapped):
    managed = {r.name: r.inputs for r in resources(bootstrapped, "aws:iam/policy:Policy")}
    deploy = {name: inputs for name, inputs in managed.items() if name.startswith("deploy-")}
    attachments = resources(bootstrapped, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
    assert sorted(a.inputs["policyArn"] for a in attachments) == sorted(
        f"arn:aws:iam::{ACCOUNT}:policy/{inputs['name']}" for inputs in deploy.values()
    )
    assert {a.inputs["role"] for a in attachments} == {"serverless-hub-deploy"}
    # IAM's quotas: 10 managed policies per role, 6,144 characters each without whitespace.
    assert 1 <= len(deploy) <= 10
    for inputs in managed.values():
        assert policies.size(inputs["policy"]) <= 6144
    [inline] = resources(bootstrapped, "aws:iam/rolePolicy:RolePolicy")
    assert inline.inputs["role"] == "serverless-hub-preview"
    # A role's inline policies: 10,240 characters together.
    assert policies.size(inline.inputs["policy"]) <= 10240


def test_outputs_are_what_github_and_the_stacks_are_given(bootstrapped):
    assert {name: output.value for name, output in bootstrapped.outputs.items()} == {
        "region": "eu-west-1",
        "previewRoleArn": f"arn:aws:iam::{ACCOUNT}:role/serverless-hub-preview",
        "deployRoleArn": f"arn:aws:iam::{ACCOUNT}:role/serverless-hub-deploy",
        "permissionsBoundaryArn": BOUNDARY_ARN,
        "oidcProviderArn": PROVIDER_ARN,
    }


# Pulumi Cloud


def test_without_an_organization_pulumi_cloud_is_left_alone(bootstrapped):
    assert not [r for r in bootstrapped.resources if r.type.startswith("pulumiservice:")]


def test_pulumi_clouds_issuer_gives_the_same_jobs_an_organization_token():
    declared = run_bootstrap(SETTINGS | {"pulumiOrganization": "octo-org"})
    [issuer] = resources(declared, "pulumiservice:index:OidcIssuer")
    assert issuer.inputs["organization"] == "octo-org"
    assert issuer.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert issuer.inputs["name"] == "github-octo-org-serverless-hub"
    rules = [policy.pop("rules") for policy in issuer.inputs["policies"]]
    # The workflows' pulumi/auth-actions steps ask for an organization token with this audience.
    assert {json.dumps(policy, sort_keys=True) for policy in issuer.inputs["policies"]} == {
        json.dumps(
            {"decision": "allow", "tokenType": "organization", "authorizedPermissions": ["admin"]},
            sort_keys=True,
        )
    }
    assert rules == [
        {"aud": "urn:pulumi:org:octo-org", "sub": f"repo:{REPOSITORY}:pull_request"},
        {"aud": "urn:pulumi:org:octo-org", "sub": f"repo:{REPOSITORY}:ref:refs/heads/main"},
        {"aud": "urn:pulumi:org:octo-org", "sub": f"repo:{REPOSITORY}:environment:prod"},
    ]


# Bad settings: one line naming the key, the value and the fix; nothing declared.


def test_the_repository_is_required():
    with pytest.raises(ConfigRefused, match="missing configuration value.*githubRepository"):
        run_bootstrap({})


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"githubRepository": "serverless-hub"},
            "githubRepository: 'serverless-hub' is not a GitHub repository as owner/name, e.g. "
            "octo-org/serverless-hub (pulumi config set githubRepository ...)",
        ),
        (
            {"githubRepository": "octo-org/serverless-hub:*"},
            "githubRepository: 'octo-org/serverless-hub:*' is not a GitHub repository as "
            "owner/name, e.g. octo-org/serverless-hub (pulumi config set githubRepository ...)",
        ),
        (
            {"githubRepository": "-octo/hub"},
            "githubRepository: '-octo/hub' is not a GitHub repository as owner/name, e.g. "
            "octo-org/serverless-hub (pulumi config set githubRepository ...)",
        ),
        (
            SETTINGS | {"oidcProviderArn": "arn:aws:iam::123456789012:oidc-provider/gitlab.com"},
            "oidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/gitlab.com' is not the ARN "
            "of GitHub's OIDC provider, e.g. arn:aws:iam::123456789012:oidc-provider/"
            "token.actions.githubusercontent.com (aws iam list-open-id-connect-providers; or "
            "leave it empty to make one)",
        ),
    ],
)
def test_bad_settings_stop_the_run_before_anything_is_declared(config, message):
    declared = run_bootstrap(config, check=False)
    assert isinstance(declared.error, pulumi.RunError)
    assert str(declared.error) == message
    assert declared.resources == []
