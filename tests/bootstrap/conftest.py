"""The bootstrap program as its stack declares it under Pulumi's mocks, and its policy documents."""

import json

import pytest

from local.program import PROJECT_ROOT, run_program

BOOTSTRAP = PROJECT_ROOT / "bootstrap"
REPOSITORY = "octo-org/serverless-hub"
SETTINGS = {"githubRepository": REPOSITORY}
ACCOUNT, REGION = "123456789012", "eu-west-1"
BOUNDARY_ARN = f"arn:aws:iam::{ACCOUNT}:policy/serverless-hub-boundary"


def run_bootstrap(config: dict, **kwargs):
    return run_program(config, stack="account", project_root=BOOTSTRAP, **kwargs)


def resources(declared, type_: str) -> list:
    return [resource for resource in declared.resources if resource.type == type_]


def role_documents(declared, role: str) -> list[str]:
    """The permission policies a role of the bootstrap has: inline, then its managed ones."""
    inline = [
        r.inputs["policy"]
        for r in resources(declared, "aws:iam/rolePolicy:RolePolicy")
        if r.inputs["role"] == role
    ]
    attached = {
        a.inputs["policyArn"]
        for a in resources(declared, "aws:iam/rolePolicyAttachment:RolePolicyAttachment")
        if a.inputs["role"] == role
    }
    # A managed policy's ARN as IAM (and the mocks) make it from its name.
    managed = [
        r.inputs["policy"]
        for r in resources(declared, "aws:iam/policy:Policy")
        if f"arn:aws:iam::{ACCOUNT}:policy/{r.inputs['name']}" in attached
    ]
    return inline + managed


def statements(documents: list[str]) -> list[dict]:
    return [s for document in documents for s in json.loads(document)["Statement"]]


@pytest.fixture(scope="session")
def bootstrapped():
    return run_bootstrap(SETTINGS)


@pytest.fixture(scope="session")
def deploy_documents(bootstrapped) -> list[str]:
    return role_documents(bootstrapped, "serverless-hub-deploy")


@pytest.fixture(scope="session")
def preview_documents(bootstrapped) -> list[str]:
    return role_documents(bootstrapped, "serverless-hub-preview")


@pytest.fixture(scope="session")
def boundary_document(bootstrapped) -> str:
    [boundary] = [
        r for r in resources(bootstrapped, "aws:iam/policy:Policy") if r.name == "boundary"
    ]
    return boundary.inputs["policy"]
