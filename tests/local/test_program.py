"""The harness hands the program its config the way the Pulumi CLI does."""

import pytest

from local.program import (
    REPOSITORY,
    ConfigRefused,
    cli_config,
    run_program,
    stack_config,
)


def test_project_defaults_fill_in_what_the_stack_leaves_out():
    config = cli_config({"keepImages": 3, "aws:region": "eu-west-1"}, stack="test")
    assert config == {
        "serverless-hub:repositoryName": "",
        "serverless-hub:forceDelete": "false",
        "serverless-hub:keepImages": "3",
        "serverless-hub:platform": "linux/amd64",
        "serverless-hub:buildOnPreview": "true",
        "serverless-hub:hubDomain": "",
        "serverless-hub:certificateArn": "",
        "serverless-hub:hostedZoneId": "",
        "serverless-hub:vpcId": "",
        "serverless-hub:subnetIds": "[]",
        "serverless-hub:cognitoUserPoolId": "",
        "serverless-hub:cognitoDomain": "",
        "serverless-hub:cognitoDomainPrefix": "",
        "serverless-hub:usernameClaim": "username",
        "serverless-hub:sesIdentityArn": "",
        "serverless-hub:emailFrom": "",
        "serverless-hub:taskCpu": "512",
        "serverless-hub:taskMemory": "1024",
        "serverless-hub:serverSizes": '[{"name": "standard", "cpu": 1024, "memory": 4096}]',
        "serverless-hub:idleTimeout": "3600",
        "serverless-hub:logRetentionDays": "30",
        "serverless-hub:permissionsBoundaryArn": "",
        "serverless-hub:adminUsers": "[]",
        "serverless-hub:allowedUsers": "[]",
        "serverless-hub:adminGroups": "[]",
        "serverless-hub:allowedGroups": "[]",
        "aws:region": "eu-west-1",
    }


def test_stack_file_keys_are_taken_as_written():
    config = cli_config(stack_config("dev"), stack="dev")
    assert config["serverless-hub:forceDelete"] == "true"
    assert config["serverless-hub:adminUsers"] == '["admin@example.org"]'


def test_a_declared_key_without_default_is_required(project_copy):
    project_file = project_copy / "Pulumi.yaml"
    project_file.write_text(project_file.read_text().replace('    default: ""\n', "", 1))
    with pytest.raises(ConfigRefused, match="'test' is missing .*repositoryName"):
        cli_config({}, stack="test", project_root=project_copy)


def test_runs_do_not_leak_into_each_other():
    first = run_program({"adminUsers": ["a"], "repositoryName": "first"})
    failed = run_program({}, check=False)
    second = run_program({"adminUsers": ["a"]})
    assert first.resource(REPOSITORY).inputs["name"] == "first"
    assert failed.resources == []
    assert second.resource(REPOSITORY).inputs["name"] == "serverless-hub-test"
    assert len(second.resources) == len(first.resources) == 8


def test_a_project_copy_runs_its_own_modules(project_copy):
    """A change in a copy's image_tag.py is what its run uses; this checkout's comes back after."""
    module = project_copy / "image_tag.py"
    assert "_TAG_LENGTH = 16\n" in module.read_text()
    module.write_text(module.read_text().replace("_TAG_LENGTH = 16\n", "_TAG_LENGTH = 20\n"))
    copied = run_program({"adminUsers": ["a"]}, project_root=project_copy)
    original = run_program({"adminUsers": ["a"]})
    assert len(copied.outputs["imageName"].value.rsplit(":", 1)[1]) == 20
    assert len(original.outputs["imageName"].value.rsplit(":", 1)[1]) == 16
