"""What users' servers run: the settings' checks, and the object the hub reads from S3 (moto)."""

import json
import logging
import secrets
from pathlib import Path

import pytest
import yaml

from hub_image.user_servers import (
    DEFAULT_SIZES,
    MAX_OBJECT_BYTES,
    S3UserServers,
    Size,
    UserServersError,
    checked,
    from_environment,
)
from tests.conftest import LISTS_BUCKET

IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/serverless-hub-dev-user@sha256:" + "a" * 64
STANDARD = {"name": "standard", "cpu": 1024, "memory": 4096}
LARGE = {"name": "large", "cpu": 4096, "memory": 16384, "groups": ["gpu-course"]}


def test_without_sizes_the_hub_offers_the_stacks_default():
    declared = yaml.safe_load(Path("Pulumi.yaml").read_text())["config"]["serverSizes"]
    assert json.loads(DEFAULT_SIZES) == declared["default"]
    servers = from_environment({"USER_IMAGE": IMAGE})
    assert servers.sizes == (Size("standard", 1024, 4096),)


def test_each_user_gets_the_sizes_their_groups_allow_the_first_their_default():
    servers = checked("test", {"image": IMAGE, "sizes": [STANDARD, LARGE]})
    assert [s.name for s in servers.sizes_for(set())] == ["standard"]
    assert [s.name for s in servers.sizes_for({"gpu-course"})] == ["standard", "large"]
    assert servers.sizes[1].label() == "large: 4 vCPU, 16 GB"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([STANDARD], "test: must be a JSON object with the keys image and sizes"),
        ({"image": IMAGE}, "test: must be a JSON object with the keys image and sizes"),
        ({"image": " ", "sizes": [STANDARD]}, "test: image must name the user image"),
        ({"image": IMAGE, "sizes": []}, "test: sizes must be a list of one or more sizes"),
        (
            {"image": IMAGE, "sizes": [{"name": "standard", "cpu": 1024}]},
            "test: sizes[0] must have a name, cpu, memory and optionally groups",
        ),
        (
            {"image": IMAGE, "sizes": [{**STANDARD, "name": "Standard"}]},
            "test: sizes[0] name 'Standard' is not at most 32 of a-z 0-9 -",
        ),
        (
            {"image": IMAGE, "sizes": [STANDARD, STANDARD]},
            "test: sizes[1] name 'standard' is there twice",
        ),
        (
            {"image": IMAGE, "sizes": [{**STANDARD, "memory": "4096"}]},
            "test: sizes[0] memory '4096' is not a positive whole number",
        ),
        (
            {"image": IMAGE, "sizes": [{**STANDARD, "cpu": True}]},
            "test: sizes[0] cpu True is not a positive whole number",
        ),
        (
            {"image": IMAGE, "sizes": [{**STANDARD, "groups": "gpu-course"}]},
            "test: sizes[0] groups 'gpu-course' is not a list of group names",
        ),
    ],
)
def test_bad_settings_are_refused_naming_what_is_wrong(document, message):
    with pytest.raises(UserServersError) as refusal:
        checked("test", document)
    assert str(refusal.value) == message


def test_bad_sizes_in_the_environment_name_the_variable():
    with pytest.raises(UserServersError) as refusal:
        from_environment({"USER_IMAGE": IMAGE, "SERVER_SIZES": "[{'name': 'standard'}]"})
    assert str(refusal.value).startswith("SERVER_SIZES: not valid JSON (")


def test_a_malformed_url_is_refused_naming_the_variable():
    with pytest.raises(UserServersError) as refusal:
        S3UserServers("s3://Hub_Bucket/user-servers.json")
    assert str(refusal.value) == (
        "USER_SERVERS_URL: must be s3://<bucket>/<key> with a valid bucket name "
        "(got 's3://Hub_Bucket/user-servers.json')"
    )


@pytest.fixture
def aws(s3, monkeypatch):
    """boto3 in this process reaches the stand-in, as the hub's does."""
    for name, value in s3.environment().items():
        monkeypatch.setenv(name, value)
    return s3


def put(s3, key: str, body: str) -> None:
    s3.client().put_object(Bucket=LISTS_BUCKET, Key=key, Body=body.encode())


def test_a_new_object_reaches_the_next_server_start_and_an_unchanged_one_costs_no_body(aws):
    # The stand-in serves the whole session: an object of this test's own.
    key = f"servers-{secrets.token_hex(3)}.json"
    put(aws, key, json.dumps({"image": IMAGE, "sizes": [STANDARD]}))
    servers = S3UserServers(f"s3://{LISTS_BUCKET}/{key}")
    assert servers.current().image == IMAGE
    assert servers.current().image == IMAGE
    # `pulumi up` writes a new user image and a new size.
    newer = IMAGE.replace("a" * 64, "b" * 64)
    put(aws, key, json.dumps({"image": newer, "sizes": [STANDARD, LARGE]}))
    assert servers.current().image == newer
    assert [s.name for s in servers.current().sizes] == ["standard", "large"]
    assert aws.reads(LISTS_BUCKET, key) == [200, 304, 200, 304]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("{not json", "cannot be parsed (JSONDecodeError: "),
        (json.dumps({"image": IMAGE, "sizes": []}), "sizes must be a list of one or more sizes"),
        (" " * MAX_OBJECT_BYTES + "{}", f"or more, over the {MAX_OBJECT_BYTES:,} the hub reads"),
    ],
)
def test_a_bad_object_keeps_the_last_good_settings(aws, caplog, body, message):
    caplog.set_level(logging.INFO, logger="JupyterHub")
    # The stand-in serves the whole session: each case its own object.
    key = f"servers-bad-{secrets.token_hex(3)}.json"
    url = f"s3://{LISTS_BUCKET}/{key}"
    put(aws, key, json.dumps({"image": IMAGE, "sizes": [STANDARD]}))
    servers = S3UserServers(url)
    good = servers.current()
    put(aws, key, body)
    assert servers.current() == good
    # Unchanged and still bad: the same, without reading it again.
    assert servers.current() == good
    # The hub's log says so once, naming the object and what is wrong.
    said = [r for r in caplog.records if r.name == "JupyterHub"]
    assert [(r.levelname, r.getMessage().split(": ", 1)[0]) for r in said] == [
        ("ERROR", "Keeping the last good servers' settings")
    ]
    assert f"{url}: " in said[0].getMessage() and message in said[0].getMessage()
    # A hub that starts with the bad object has nothing to keep: it says what is wrong.
    with pytest.raises(UserServersError) as refusal:
        S3UserServers(url).current()
    assert str(refusal.value).startswith(f"{url}: ")
    assert message in str(refusal.value)
    # Good again: the log says that too, once.
    put(aws, key, json.dumps({"image": IMAGE, "sizes": [STANDARD, LARGE]}))
    assert [s.name for s in servers.current().sizes] == ["standard", "large"]
    assert [r.getMessage() for r in caplog.records if r.name == "JupyterHub"][1:] == [
        f"The servers' settings at {url} are good again"
    ]
    assert aws.reads(LISTS_BUCKET, key) == [200, 200, 304, 200, 200]


def test_a_missing_object_says_so(aws):
    url = f"s3://{LISTS_BUCKET}/no-such-servers.json"
    with pytest.raises(UserServersError) as refusal:
        S3UserServers(url).current()
    assert str(refusal.value) == (
        f"{url}: cannot be read (NoSuchKey: The specified key does not exist.)"
    )
