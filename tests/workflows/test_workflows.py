"""The workflows keep what operators rely on: previews per stack, gated deploys, least privilege."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
LIST_STACKS = ROOT / ".github" / "list_stacks.py"
PULUMI = "pulumi/actions"
AWS_CREDENTIALS = "aws-actions/configure-aws-credentials"
PULUMI_AUTH = "pulumi/auth-actions"
# The concurrency group both workflows give a stack's jobs, so one stack has one run at a time.
STACK_GROUP = "pulumi-stack-{}"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict) -> dict:
    # YAML 1.1 reads a bare `on` as True.
    return workflow[True] if True in workflow else workflow["on"]


def uses(step: dict, action: str) -> bool:
    return step.get("uses", "").split("@")[0] == action


def step_index(job: dict, action: str) -> int:
    found = [i for i, step in enumerate(job["steps"]) if uses(step, action)]
    assert len(found) == 1, f"expected one {action} step, found {len(found)}"
    return found[0]


def pulumi_step(job: dict) -> dict:
    return job["steps"][step_index(job, PULUMI)]


def pulumi_jobs(workflow: dict) -> dict[str, dict]:
    return {
        name: job
        for name, job in workflow["jobs"].items()
        if any(uses(step, PULUMI) for step in job["steps"])
    }


def stack_of(job: dict) -> str:
    """The stack a job runs pulumi on: the last part of `org/project/stack`."""
    return pulumi_step(job)["with"]["stack-name"].rsplit("/", 1)[1]


def list_stacks(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(LIST_STACKS), str(root)], capture_output=True, text=True, check=False
    )


PREVIEW = load("preview.yml")
DEPLOY = load("deploy.yml")
BOTH = {"preview.yml": PREVIEW, "deploy.yml": DEPLOY}


# Triggers


def test_preview_runs_on_every_pull_request():
    assert set(triggers(PREVIEW)) == {"pull_request"}
    # No branch or path filter: every pull request gets its previews.
    assert not triggers(PREVIEW)["pull_request"]


def test_deploy_runs_on_a_push_to_main_only():
    assert triggers(DEPLOY) == {"push": {"branches": ["main"]}}


# The stacks come from the files


def test_listing_finds_the_repository_stacks():
    listed = list_stacks(ROOT)
    assert listed.returncode == 0, listed.stderr
    stacks = json.loads(listed.stdout)
    assert "dev" in stacks
    assert [f"Pulumi.{stack}.yaml" for stack in stacks] == sorted(
        path.name for path in ROOT.glob("Pulumi.*.yaml")
    )


def test_listing_finds_exactly_the_stack_files(tmp_path):
    for name in ("Pulumi.yaml", "Pulumi.a.yaml", "Pulumi.b.yaml", "Pulumi.c.yml", "other.yaml"):
        (tmp_path / name).write_text("config: {}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "Pulumi.d.yaml").write_text("config: {}\n")
    listed = list_stacks(tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == ["a", "b"]


@pytest.mark.parametrize("files", [["Pulumi.yaml"], ["Pulumi.yaml", "Pulumi.a b.yaml"]])
def test_listing_refuses_no_stack_or_a_bad_name(tmp_path, files):
    for name in files:
        (tmp_path / name).write_text("config: {}\n")
    listed = list_stacks(tmp_path)
    assert listed.returncode != 0
    assert listed.stdout == ""
    assert "Pulumi." in listed.stderr


@pytest.mark.parametrize("workflow", [PREVIEW, DEPLOY], ids=["preview", "deploy"])
def test_the_stack_list_comes_from_the_listing_script(workflow):
    stacks = workflow["jobs"]["stacks"]
    step = next(step for step in stacks["steps"] if step.get("id") == "list")
    assert "python3 .github/list_stacks.py" in step["run"]
    assert stacks["outputs"]["stacks"] == "${{ steps.list.outputs.stacks }}"


def test_preview_runs_for_each_listed_stack():
    preview = PREVIEW["jobs"]["preview"]
    assert preview["needs"] == "stacks"
    assert preview["strategy"]["matrix"] == {
        "stack": "${{ fromJSON(needs.stacks.outputs.stacks) }}"
    }
    assert stack_of(preview) == "${{ matrix.stack }}"


def test_preview_posts_its_diff_on_the_pull_request():
    step = pulumi_step(PREVIEW["jobs"]["preview"])
    assert step["with"]["command"] == "preview"
    assert step["with"]["comment-on-pr"] is True


# Deploys


def test_deploy_updates_dev_then_prod_through_the_prod_environment():
    jobs = DEPLOY["jobs"]
    assert (pulumi_step(jobs["dev"])["with"]["command"], stack_of(jobs["dev"])) == ("up", "dev")
    assert (pulumi_step(jobs["prod"])["with"]["command"], stack_of(jobs["prod"])) == ("up", "prod")
    assert "dev" in jobs["prod"]["needs"]
    assert jobs["prod"]["environment"] == "prod"
    # Without an environment, dev's OIDC subject is ref:refs/heads/main: what the role trusts.
    assert "environment" not in jobs["dev"]
    assert set(pulumi_jobs(DEPLOY)) == {"dev", "prod"}


def test_each_deploy_runs_only_for_a_listed_stack():
    for name, job in pulumi_jobs(DEPLOY).items():
        assert job["if"] == f"contains(fromJSON(needs.stacks.outputs.stacks), '{name}')"


# One run per stack at a time


@pytest.mark.parametrize("name", BOTH)
def test_every_pulumi_job_holds_its_stack_group_and_is_never_cancelled(name):
    jobs = pulumi_jobs(BOTH[name])
    assert jobs
    for job in jobs.values():
        assert job["concurrency"] == {
            "group": STACK_GROUP.format(stack_of(job)),
            "cancel-in-progress": False,
        }


# Permissions


def needed_permissions(job: dict) -> dict[str, str]:
    """What a job needs, from what its steps do."""
    needed = {"contents": "read"}
    if any(uses(step, AWS_CREDENTIALS) or uses(step, PULUMI_AUTH) for step in job["steps"]):
        needed["id-token"] = "write"
    if any(step.get("with", {}).get("comment-on-pr") is True for step in job["steps"]):
        needed["pull-requests"] = "write"
    return needed


@pytest.mark.parametrize("name", BOTH)
def test_permissions_are_none_by_default_and_the_least_per_job(name):
    workflow = BOTH[name]
    assert workflow["permissions"] == {}
    for job_name, job in workflow["jobs"].items():
        assert job["permissions"] == needed_permissions(job), job_name


def test_the_least_permissions_are_what_the_issue_lists():
    assert PREVIEW["jobs"]["stacks"]["permissions"] == {"contents": "read"}
    assert PREVIEW["jobs"]["preview"]["permissions"] == {
        "contents": "read",
        "id-token": "write",
        "pull-requests": "write",
    }
    for job in pulumi_jobs(DEPLOY).values():
        assert job["permissions"] == {"contents": "read", "id-token": "write"}


# Credentials: OIDC only


@pytest.mark.parametrize(
    ("name", "role"),
    [("preview.yml", "AWS_PREVIEW_ROLE_ARN"), ("deploy.yml", "AWS_DEPLOY_ROLE_ARN")],
)
def test_aws_and_pulumi_cloud_are_reached_through_oidc(name, role):
    for job in pulumi_jobs(BOTH[name]).values():
        aws = job["steps"][step_index(job, AWS_CREDENTIALS)]["with"]
        assert aws["role-to-assume"] == f"${{{{ vars.{role} }}}}"
        # Pulumi Cloud: its OIDC token exchange first, or the README's stored-token alternative.
        token = pulumi_step(job).get("env", {}).get("PULUMI_ACCESS_TOKEN")
        if token is None:
            assert step_index(job, PULUMI_AUTH) < step_index(job, PULUMI)
        else:
            assert token == "${{ secrets.PULUMI_ACCESS_TOKEN }}"
    text = (WORKFLOWS / name).read_text()
    assert "aws-access-key-id" not in text
    assert "aws-secret-access-key" not in text


# How the project is installed


def readme_install_command() -> str:
    lines = [
        line.strip()
        for line in (ROOT / "README.md").read_text().splitlines()
        if line.startswith("python3 -m venv ") and "requirements.txt" in line
    ]
    assert len(lines) == 1, lines
    return lines[0]


@pytest.mark.parametrize("name", BOTH)
def test_pulumi_jobs_install_the_project_as_the_readme_does_before_any_credential(name):
    command = readme_install_command()
    for job in pulumi_jobs(BOTH[name]).values():
        runs = [i for i, step in enumerate(job["steps"]) if step.get("run", "").strip() == command]
        assert len(runs) == 1, f"no step runs the README's line {command!r}"
        assert runs[0] < step_index(job, AWS_CREDENTIALS) < step_index(job, PULUMI)
        assert all(runs[0] < i for i, step in enumerate(job["steps"]) if uses(step, PULUMI_AUTH))
        # The image is built during previews and updates.
        assert step_index(job, "docker/setup-buildx-action") < step_index(job, PULUMI)


@pytest.mark.parametrize("name", BOTH)
def test_the_pulumi_cli_is_the_sdk_release_in_requirements(name):
    pin = re.search(r"^pulumi==(\S+)$", (ROOT / "requirements.txt").read_text(), re.MULTILINE)
    for job in pulumi_jobs(BOTH[name]).values():
        assert str(pulumi_step(job)["with"]["pulumi-version"]) == pin[1]


# arm64 images on GitHub's x86 runners

STACK_PLATFORM = ROOT / ".github" / "stack_platform.py"
QEMU = "docker/setup-qemu-action"


def platform_of(root: Path, stack: str) -> str:
    answer = subprocess.run(
        [sys.executable, str(STACK_PLATFORM), stack, str(root)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert answer.stdout.startswith("platform="), answer.stdout
    return answer.stdout.strip().removeprefix("platform=")


def test_a_stacks_platform_is_its_own_setting_or_the_projects_default(tmp_path):
    assert platform_of(ROOT, "dev") == "linux/amd64"
    (tmp_path / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
    (tmp_path / "Pulumi.graviton.yaml").write_text(
        "config:\n  serverless-hub:platform: linux/arm64\n"
    )
    (tmp_path / "Pulumi.plain.yaml").write_text("config:\n  serverless-hub:keepImages: 3\n")
    assert platform_of(tmp_path, "graviton") == "linux/arm64"
    assert platform_of(tmp_path, "plain") == "linux/amd64"


@pytest.mark.parametrize("name", BOTH)
def test_an_arm64_stack_gets_qemu_before_pulumi_builds(name):
    for job in pulumi_jobs(BOTH[name]).values():
        [platform] = [i for i, step in enumerate(job["steps"]) if step.get("id") == "platform"]
        step = job["steps"][platform]
        assert (
            step["run"] == '.venv/bin/python .github/stack_platform.py "$STACK" >> "$GITHUB_OUTPUT"'
        )
        # The job's own stack, from the environment rather than spliced into the script.
        assert step["env"]["STACK"] == stack_of(job)
        qemu = job["steps"][step_index(job, QEMU)]
        assert qemu["if"] == "steps.platform.outputs.platform == 'linux/arm64'"
        assert qemu["with"]["platforms"] == "arm64"
        # The emulator's image, pinned by digest as the actions are pinned by commit.
        assert re.fullmatch(
            r"docker\.io/tonistiigi/binfmt:[\w.-]+@sha256:[0-9a-f]{64}", qemu["with"]["image"]
        )
        assert platform < step_index(job, QEMU) < step_index(job, PULUMI)


# Pinned actions

USES_LINE = re.compile(r"^\s*(?:-\s*)?uses:\s*(?P<ref>\S+)(?P<rest>.*)$")
PINNED = re.compile(r"[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}")
VERSION_COMMENT = re.compile(r"\s+# v\d+(\.\d+)*")


@pytest.mark.parametrize("name", BOTH)
def test_every_action_is_pinned_to_a_commit_with_its_version(name):
    lines = [USES_LINE.match(line) for line in (WORKFLOWS / name).read_text().splitlines()]
    found = [line for line in lines if line]
    parsed = [
        step["uses"]
        for job in BOTH[name]["jobs"].values()
        for step in job["steps"]
        if "uses" in step
    ]
    # Each `uses:` the YAML holds is one the text check below has seen.
    assert [line["ref"] for line in found] == parsed
    for line in found:
        assert PINNED.fullmatch(line["ref"]), line["ref"]
        assert VERSION_COMMENT.fullmatch(line["rest"]), f"{line['ref']}: no `# vX.Y.Z` comment"


def test_the_workflow_folder_holds_just_these_workflows():
    # A new workflow must be added to BOTH above, so these tests check it too.
    assert sorted(path.name for path in WORKFLOWS.iterdir()) == sorted(BOTH)
