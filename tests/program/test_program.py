"""What `pulumi up` declares, step by step, checked on what the program sends the engine."""

import errno
import hashlib
import json
import os
import stat
import subprocess
import sys

import pulumi
import pytest
import yaml

import image_tag
import stack_settings
from local.program import (
    AUTHORIZATION_TOKEN,
    IMAGE,
    LIFECYCLE_POLICY,
    PROJECT_ROOT,
    REPOSITORY,
    ConfigRefused,
    HubMocks,
    run_program,
    stack_config,
)

USERS = {"adminUsers": ["admin@example.org"], "allowedUsers": ["jane.doe@example.org"]}


def pushed_digest(image_name: str) -> str:
    """The digest HubMocks reports for a pushed image (a stand-in for the registry's)."""
    return hashlib.sha256(image_name.encode()).hexdigest()


def tag_of(declared) -> str:
    return declared.resource(IMAGE).inputs["imageName"].rsplit(":", 1)[1]


# 1. Repository


def test_repository_is_immutable_scanned_and_encrypted():
    repository = run_program(USERS).resource(REPOSITORY).inputs
    assert repository["name"] == "serverless-hub-test"
    # Every tag is immutable but the build cache's, which moves to each new image.
    assert repository["imageTagMutability"] == "IMMUTABLE_WITH_EXCLUSION"
    assert repository["imageTagMutabilityExclusionFilters"] == [
        {"filter": "build-cache", "filterType": "WILDCARD"}
    ]
    assert repository["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
    assert repository["forceDelete"] is False


def test_repository_name_comes_from_config():
    declared = run_program(USERS | {"repositoryName": "team-hub"})
    assert declared.resource(REPOSITORY).inputs["name"] == "team-hub"


def test_a_stack_name_in_upper_case_gives_a_lower_case_repository():
    # ECR takes only lower case.
    assert (
        run_program(USERS, stack="Prod").resource(REPOSITORY).inputs["name"]
        == "serverless-hub-prod"
    )


def test_a_stack_name_ecr_cannot_take_is_refused_naming_the_stack_and_the_fix():
    declared = run_program(USERS, stack="team-", check=False)
    assert str(declared.error).startswith(
        "repositoryName (made from the stack name 'team-'): 'serverless-hub-team-' is refused by "
        "ECR's CreateRepository.repositoryName: does not match the model's pattern "
    )
    assert str(declared.error).endswith(
        "; set another with `pulumi config set repositoryName <value>`"
    )
    assert declared.resources == []


def test_dev_stack_lets_destroy_delete_the_repository():
    declared = run_program(stack_config("dev"), stack="dev")
    assert declared.resource(REPOSITORY).inputs["forceDelete"] is True
    assert declared.resource(REPOSITORY).inputs["name"] == "serverless-hub-dev"


@pytest.mark.parametrize(("config", "kept"), [({}, 10), ({"keepImages": 3}, 3)])
def test_lifecycle_policy_expires_untagged_and_keeps_the_newest(config, kept):
    policy = run_program(USERS | config).resource(LIFECYCLE_POLICY).inputs
    assert policy["repository"] == "serverless-hub-test"
    rules = sorted(json.loads(policy["policy"])["rules"], key=lambda rule: rule["rulePriority"])
    untagged, newest = rules
    assert untagged["selection"] == {
        "tagStatus": "untagged",
        "countType": "sinceImagePushed",
        "countUnit": "days",
        "countNumber": 1,
    }
    # ECR requires the tagStatus "any" rule to have the highest priority.
    assert newest["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": kept,
    }
    assert untagged["action"] == newest["action"] == {"type": "expire"}


# 2. Auth token


def test_token_is_asked_for_the_repositorys_registry():
    declared = run_program(USERS, mocks=HubMocks(registry_id="210987654321"))
    assert declared.invoke(AUTHORIZATION_TOKEN).args == {"registryId": "210987654321"}


def test_registry_login_uses_the_token_and_keeps_the_password_secret():
    mocks = HubMocks(registry_host="127.0.0.1:5000", token_password="s3cret")  # noqa: S106
    image = run_program(USERS, mocks=mocks).resource(IMAGE)
    assert image.inputs["registry"] == {
        "server": "127.0.0.1:5000",
        "username": "AWS",
        "password": "s3cret",
    }
    assert image.secret_inputs == {"registry.password"}


# 3. Build and push


def test_image_is_built_from_the_project_root_for_fargate_by_default():
    declared = run_program(USERS)
    build = declared.resource(IMAGE).inputs["build"]
    # The CLI runs the program, and the docker provider, in the project's directory.
    assert build["context"] == "."
    assert build["dockerfile"] == "hub_image/Dockerfile"
    assert declared.path(build["dockerfile"]).is_file()
    assert build["platform"] == "linux/amd64"
    assert declared.resource(IMAGE).inputs["skipPush"] is False


@pytest.mark.parametrize(("config", "builds"), [({}, True), ({"buildOnPreview": False}, False)])
def test_previews_build_the_image_unless_told_not_to(config, builds):
    image = run_program(USERS | config).resource(IMAGE).inputs
    assert image["buildOnPreview"] is builds


def test_a_fresh_runner_reuses_the_layers_of_the_last_push():
    declared = run_program(USERS)
    image = declared.resource(IMAGE)
    cache = declared.resource(IMAGE, "hub-build-cache")
    build_cache = f"{declared.outputs['repositoryUrl'].value}:build-cache"
    # The image is built with the last push's layers at hand, and records its own for the next.
    assert image.inputs["build"]["cacheFrom"] == {"images": [build_cache]}
    assert image.inputs["build"]["args"]["BUILDKIT_INLINE_CACHE"] == "1"
    # The cache tag then moves to this image: the same build, after it, to the same registry.
    assert cache.inputs["imageName"] == build_cache
    settings = {key: value for key, value in image.inputs["build"].items() if key != "cacheFrom"}
    assert cache.inputs["build"] == settings
    assert cache.inputs["registry"] == image.inputs["registry"]
    assert cache.secret_inputs == {"registry.password"}
    assert image.urn in cache.dependencies
    # Previews never move it.
    assert cache.inputs["buildOnPreview"] is False


def test_platform_comes_from_config():
    declared = run_program(USERS | {"platform": "linux/arm64"})
    assert declared.resource(IMAGE).inputs["build"]["platform"] == "linux/arm64"


def test_image_goes_to_the_repository_under_the_tag_of_its_inputs():
    declared = run_program(USERS)
    image = declared.resource(IMAGE).inputs
    repository_url = declared.outputs["repositoryUrl"].value
    # The tag digests the build settings docker receives, all but the cache it may reuse.
    settings = {key: value for key, value in image["build"].items() if key != "cacheFrom"}
    assert image["imageName"] == f"{repository_url}:{image_tag.tag_for(PROJECT_ROOT, settings)}"


# Another process, working directory and hash seed: what an operator's `pulumi up` elsewhere does.
DECLARE_IN_A_NEW_PROCESS = """
import json, sys
from local.program import IMAGE, run_program
print(json.dumps(run_program(json.loads(sys.argv[1])).resource(IMAGE).inputs))
"""


def test_image_inputs_do_not_depend_on_the_process_or_working_directory(tmp_path):
    here = run_program(USERS).resource(IMAGE).inputs
    done = subprocess.run(
        [sys.executable, "-c", DECLARE_IN_A_NEW_PROCESS, json.dumps(USERS)],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "PYTHONHASHSEED": "12345"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    elsewhere = json.loads(done.stdout)
    assert elsewhere["imageName"] == here["imageName"]
    assert elsewhere["build"] == here["build"]


def test_tag_ignores_order_case_spaces_and_duplicates_in_the_lists():
    messy = {
        "adminUsers": [" Admin@Example.org", "admin@example.org"],
        "allowedUsers": ["Jane.Doe@example.org", "bob", "jane.doe@example.org"],
        "allowedGroups": ["students ", "Teachers", "students"],
    }
    tidy = {
        "adminUsers": ["admin@example.org"],
        "allowedUsers": ["bob", "jane.doe@example.org"],
        "allowedGroups": ["Teachers", "students"],
    }
    assert tag_of(run_program(messy)) == tag_of(run_program(tidy))


@pytest.mark.parametrize(
    "change",
    [
        {"allowedUsers": ["jane.doe@example.org", "bob"]},
        {"allowedUsers": []},
        {"adminUsers": ["root@example.org"]},
        {"platform": "linux/arm64"},
        {"adminGroups": ["hub-admins"]},
        {"allowedGroups": ["students"]},
        # Group names keep their case: Students and students are different Cognito groups.
        {"allowedGroups": ["Students"]},
    ],
)
def test_tag_changes_with_users_groups_and_platform(change):
    assert tag_of(run_program(USERS | change)) != tag_of(run_program(USERS))


def test_tag_changes_when_a_context_file_changes(project_copy):
    before = tag_of(run_program(USERS, project_root=project_copy))
    with (project_copy / "hub_image" / "Dockerfile").open("a") as dockerfile:
        dockerfile.write("LABEL changed=yes\n")
    assert tag_of(run_program(USERS, project_root=project_copy)) != before


def test_a_run_gives_the_sources_their_git_modes(project_copy):
    """A checkout made under umask 002 builds the same context as one made under 022."""
    names = project_copy / "users" / "names.py"
    names.chmod(0o664)
    group_writable = tag_of(run_program(USERS, project_root=project_copy))
    assert stat.S_IMODE(names.stat().st_mode) == 0o644
    assert group_writable == tag_of(run_program(USERS))


def test_tag_ignores_stack_files_tests_and_readme(project_copy):
    before = tag_of(run_program(USERS, project_root=project_copy))
    (project_copy / "README.md").write_text("# changed\n")
    (project_copy / "Pulumi.dev.yaml").write_text("config: {}\n")
    (project_copy / "tests").mkdir()
    (project_copy / "tests" / "test_new.py").write_text("")
    assert tag_of(run_program(USERS, project_root=project_copy)) == before


# 4. Users and groups


def test_users_reach_the_image_as_cleaned_comma_joined_build_args():
    config = {"adminUsers": ["Zed@example.org", "admin"], "allowedUsers": ["Jane.Doe@uni.nl", "b"]}
    args = run_program(config).resource(IMAGE).inputs["build"]["args"]
    assert args == {
        "ADMIN_USERS": "admin,zed@example.org",
        "ALLOWED_USERS": "b,jane.doe@uni.nl",
        "ADMIN_GROUPS": "",
        "ALLOWED_GROUPS": "",
        "BUILDKIT_INLINE_CACHE": "1",
    }


def test_groups_reach_the_image_trimmed_sorted_with_their_case():
    config = {
        "adminGroups": [" hub-admins", "Hub-Admins", "hub-admins"],
        "allowedGroups": ["students", "Teachers ", "eu-west-1_AbC_Google"],
    }
    args = run_program(config).resource(IMAGE).inputs["build"]["args"]
    assert args == {
        "ADMIN_USERS": "",
        "ALLOWED_USERS": "",
        "ADMIN_GROUPS": "Hub-Admins,hub-admins",
        "ALLOWED_GROUPS": "Teachers,eu-west-1_AbC_Google,students",
        "BUILDKIT_INLINE_CACHE": "1",
    }


def test_users_are_set_after_every_step_that_installs_software():
    text = (PROJECT_ROOT / "hub_image" / "Dockerfile").read_text().replace("\\\n", " ")
    instructions = [
        line.split(None, 1) for line in text.splitlines() if line.strip() and line[0] != "#"
    ]
    first = next(i for i, (_, rest) in enumerate(instructions) if "ADMIN_USERS" in rest)
    last_steps = instructions[first:]
    assert {keyword for keyword, _ in last_steps} == {"ARG", "ENV"}
    args = {rest.split("=", 1)[0] for keyword, rest in last_steps if keyword == "ARG"}
    env = " ".join(rest for keyword, rest in last_steps if keyword == "ENV")
    for name in ["ADMIN_USERS", "ALLOWED_USERS", "ADMIN_GROUPS", "ALLOWED_GROUPS"]:
        assert name in args
        assert f"{name}=${{{name}}}" in env


# 5. Outputs


def test_outputs_are_what_the_deploy_side_needs():
    declared = run_program(
        {
            "adminUsers": ["Admin@example.org"],
            "allowedUsers": ["b", "a"],
            "adminGroups": ["hub-admins"],
            "allowedGroups": ["students", "Teachers"],
        },
        mocks=HubMocks(registry_id="210987654321", region="us-east-1"),
    )
    outputs = {name: output.value for name, output in declared.outputs.items()}
    image = declared.resource(IMAGE).inputs
    user_image = declared.resource(IMAGE, "user").inputs
    assert outputs == {
        "repositoryUrl": "210987654321.dkr.ecr.us-east-1.amazonaws.com/serverless-hub-test",
        "repositoryArn": "arn:aws:ecr:us-east-1:210987654321:repository/serverless-hub-test",
        "registryId": "210987654321",
        "imageName": image["imageName"],
        # The pushed image's digest as the registry (the mocks) reported it, not the tag.
        "imageDigest": f"{outputs['repositoryUrl']}@sha256:{pushed_digest(image['imageName'])}",
        "userRepositoryUrl": (
            "210987654321.dkr.ecr.us-east-1.amazonaws.com/serverless-hub-test-user"
        ),
        "userRepositoryArn": (
            "arn:aws:ecr:us-east-1:210987654321:repository/serverless-hub-test-user"
        ),
        "userImageName": user_image["imageName"],
        "userImageDigest": (
            f"{outputs['userRepositoryUrl']}@sha256:{pushed_digest(user_image['imageName'])}"
        ),
        "adminUsers": ["admin@example.org"],
        "allowedUsers": ["a", "b"],
        "adminGroups": ["hub-admins"],
        "allowedGroups": ["Teachers", "students"],
    }
    assert outputs["imageDigest"].startswith(
        "210987654321.dkr.ecr.us-east-1.amazonaws.com/serverless-hub-test@sha256:"
    )
    assert not any(output.secret for output in declared.outputs.values())


# Settings


def test_every_setting_is_declared_with_type_description_and_default():
    settings = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())["config"]
    assert set(settings) == {
        "repositoryName",
        "forceDelete",
        "keepImages",
        "platform",
        "buildOnPreview",
        "hubDomain",
        "certificateArn",
        "hostedZoneId",
        "vpcId",
        "subnetIds",
        "cognitoUserPoolId",
        "cognitoDomain",
        "cognitoDomainPrefix",
        "usernameClaim",
        "sesIdentityArn",
        "emailFrom",
        "taskCpu",
        "taskMemory",
        "serverSizes",
        "idleTimeout",
        "logRetentionDays",
        "permissionsBoundaryArn",
        "adminUsers",
        "allowedUsers",
        "adminGroups",
        "allowedGroups",
    }
    for name, declaration in settings.items():
        assert {"type", "description", "default"} <= set(declaration), name
    for name in ["adminUsers", "allowedUsers", "adminGroups", "allowedGroups"]:
        assert settings[name]["type"] == "array"
        assert settings[name]["items"] == {"type": "string"}
        assert settings[name]["default"] == []


def test_an_admin_group_is_enough_without_admin_users():
    declared = run_program({"adminGroups": ["hub-admins"]})
    args = declared.resource(IMAGE).inputs["build"]["args"]
    assert (args["ADMIN_USERS"], args["ADMIN_GROUPS"]) == ("", "hub-admins")
    assert declared.outputs["adminUsers"].value == []
    assert declared.outputs["adminGroups"].value == ["hub-admins"]


# Each is an edit of Pulumi.<stack>.yaml (or a `pulumi config set`) that the CLI lets through: every
# value has its declared type, and only the program's own checks can refuse it.
@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"allowedUsers": ["jane@example.org"], "allowedGroups": ["students"]},
            "adminUsers, adminGroups: both empty; the hub needs at least one admin, e.g. "
            "`pulumi config set --path 'adminUsers[0]' you@example.org` "
            "or `pulumi config set --path 'adminGroups[0]' hub-admins`",
        ),
        (
            {"adminUsers": [], "adminGroups": []},
            "adminUsers, adminGroups: both empty; the hub needs at least one admin, e.g. "
            "`pulumi config set --path 'adminUsers[0]' you@example.org` "
            "or `pulumi config set --path 'adminGroups[0]' hub-admins`",
        ),
        (
            {"adminUsers": [], "adminGroups": [" "]},
            "adminGroups: entry ' ' is empty (change it in Pulumi.test.yaml)",
        ),
        (
            USERS | {"adminGroups": ["hub admins"]},
            "adminGroups: entry 'hub admins' has whitespace (change it in Pulumi.test.yaml)",
        ),
        (
            USERS | {"allowedGroups": ["course:2024"]},
            "allowedGroups: entry 'course:2024' is not a valid group name (use at most 128 of "
            "letters, digits and + = . @ - _) (change it in Pulumi.test.yaml)",
        ),
        (
            USERS | {"adminGroups": ["a,b"]},
            "adminGroups: entry 'a,b' has a ',' (it separates entries in the hub's lists) "
            "(change it in Pulumi.test.yaml)",
        ),
        (
            {"adminUsers": ["Jane Doe"]},
            "adminUsers: entry 'Jane Doe' has whitespace (change it in Pulumi.test.yaml)",
        ),
        (
            {"adminUsers": ["admin"], "allowedUsers": [" "]},
            "allowedUsers: entry ' ' is empty (change it in Pulumi.test.yaml)",
        ),
        (
            {"adminUsers": ["admin"], "allowedUsers": ["staff/jane"]},
            "allowedUsers: entry 'staff/jane' has a '/' (change it in Pulumi.test.yaml)",
        ),
        (
            {"adminUsers": ["-admin"]},
            "adminUsers: entry '-admin' is not a valid hub username (use at most 128 of "
            "a-z 0-9 . _ @ -, not starting with . @ or -) (change it in Pulumi.test.yaml)",
        ),
        (
            {"adminUsers": ["a.b"], "allowedUsers": ["a_b"]},
            "allowedUsers: entry 'a_b' would share the home directory /home/a_b with 'a.b' "
            "in adminUsers; keep only one of them (change it in Pulumi.test.yaml)",
        ),
        (
            {"adminUsers": ["admin"], "allowedUsers": ["jane@uni.nl", "jane.uni.nl"]},
            "allowedUsers: entry 'jane@uni.nl' would share the home directory /home/jane_uni_nl "
            "with 'jane.uni.nl' in allowedUsers; keep only one of them "
            "(change it in Pulumi.test.yaml)",
        ),
        (
            USERS | {"repositoryName": "Team_Hub"},
            "repositoryName: 'Team_Hub' is refused by ECR's CreateRepository.repositoryName: "
            "does not match the model's pattern "
            "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*(\\/[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*)*; "
            "set another with `pulumi config set repositoryName <value>`",
        ),
        (
            USERS | {"keepImages": 0},
            "keepImages: 0 keeps no image; set it to 1 or more, "
            "e.g. `pulumi config set keepImages 10`",
        ),
        (
            USERS | {"platform": "amd64"},
            "platform: 'amd64' is not os/arch; use e.g. linux/amd64 (Fargate) or linux/arm64",
        ),
        (
            USERS | {"platform": "linux/amd64 "},
            "platform: 'linux/amd64 ' is not os/arch; use e.g. linux/amd64 (Fargate) or "
            "linux/arm64",
        ),
    ],
)
def test_bad_settings_stop_the_run_before_anything_is_declared(config, message):
    declared = run_program(config, check=False)
    assert isinstance(declared.error, pulumi.RunError)
    assert str(declared.error) == message
    assert declared.resources == []
    assert declared.invokes == []


# Pulumi.yaml declares each setting's type, so the CLI refuses these before the program runs.
@pytest.mark.parametrize(
    ("config", "key", "type_name"),
    [
        ({"adminUsers": ["admin", 42]}, "adminUsers", "array<string>"),
        (USERS | {"allowedGroups": ["students", 7]}, "allowedGroups", "array<string>"),
        ({"adminUsers": "admin@example.org"}, "adminUsers", "array<string>"),
        (USERS | {"keepImages": "ten"}, "keepImages", "integer"),
        (USERS | {"forceDelete": "yes"}, "forceDelete", "boolean"),
        (USERS | {"buildOnPreview": "no"}, "buildOnPreview", "boolean"),
    ],
)
def test_the_cli_refuses_a_value_of_the_wrong_type(config, key, type_name):
    with pytest.raises(ConfigRefused) as refusal:
        run_program(config)
    assert str(refusal.value) == (
        f"Stack 'test' with configuration key '{key}' must be of type '{type_name}'"
    )


# A path the CLI blocks (above); the program refuses it too, should Pulumi.yaml's types loosen.
@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            USERS | {"allowedGroups": ["students", 7]},
            "allowedGroups: entry 7 is not a string (it is int) (change it in Pulumi.test.yaml)",
        ),
        (
            {"adminUsers": ["admin", 42]},
            "adminUsers: entry 42 is not a string (it is int) (change it in Pulumi.test.yaml)",
        ),
    ],
)
def test_the_program_also_refuses_entries_that_are_not_strings(config, message):
    declared = run_program(config, check=False, check_types=False)
    assert str(declared.error) == message
    assert declared.resources == []


# The config ceiling: the Pulumi CLI hands the whole config to the program in one variable.
def test_the_ceiling_is_linuxs_limit_on_one_environment_variable():
    room = stack_settings.CONFIG_CEILING_BYTES - len("PULUMI_CONFIG=") - 1  # and its NUL
    subprocess.run(["true"], env={"PULUMI_CONFIG": "x" * room}, check=True)
    with pytest.raises(OSError) as refused:
        subprocess.run(["true"], env={"PULUMI_CONFIG": "x" * (room + 1)}, check=True)
    assert refused.value.errno == errno.E2BIG  # "Argument list too long"


def typical_names(count: int) -> list[str]:
    return [f"firstname{n}.lastname{n}@university.example.org" for n in range(count)]


def test_lists_past_half_the_ceiling_are_warned_about():
    # About 55 bytes a name: 1,000 such names fit well, 2,000 pass half of the ceiling.
    assert (
        run_program({"adminUsers": ["admin"], "allowedUsers": typical_names(1000)}).warnings == []
    )
    declared = run_program({"adminUsers": ["admin"], "allowedUsers": typical_names(2000)})
    assert declared.resources, "2,000 names still run"
    [warning] = declared.warnings
    assert warning.startswith(
        "adminUsers, allowedUsers, adminGroups, allowedGroups: 2,001 entries take about 107,"
    )
    assert "use Cognito groups (allowedGroups)" in warning
