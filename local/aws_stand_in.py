"""An S3 stand-in on 127.0.0.1: moto's server, holding the hub's user lists in tests.

boto3 reaches it through AWS_ENDPOINT_URL_S3 with dummy credentials (`environment()`), as the hub
reaches S3 on AWS through the task role. moto's request log, one line per request with its status,
is kept, so tests can count how often an object was really read (200) or found unchanged (304).

    with running_s3(port, log_path) as s3:
        s3.client().create_bucket(Bucket="hub-lists", ...)
        s3.reads("hub-lists", "users.json")  # the statuses of its GETs, in order
"""

import contextlib
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests

from local.polling import wait_for

READY_SECONDS = 30
REGION = "eu-west-1"
# werkzeug's request log line: "GET /bucket/key HTTP/1.1" 304 (colours stripped first).
_REQUEST = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3})')
_COLOUR = re.compile(r"\x1b\[[0-9;]*m")


@dataclass(frozen=True)
class S3StandIn:
    url: str
    log: Path

    def environment(self) -> dict[str, str]:
        """What boto3 needs to reach it: its endpoint, a region and credentials it accepts."""
        return {
            "AWS_ENDPOINT_URL_S3": self.url,
            "AWS_ACCESS_KEY_ID": "moto-stand-in",
            "AWS_SECRET_ACCESS_KEY": "moto-stand-in",
            "AWS_DEFAULT_REGION": REGION,
        }

    def client(self):
        env = self.environment()
        return boto3.session.Session(
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
            region_name=REGION,
        ).client("s3", endpoint_url=self.url)

    def reads(self, bucket: str, key: str) -> list[int]:
        """The status of every GET of this object so far (200 read, 304 unchanged, 404 ...)."""
        text = _COLOUR.sub("", self.log.read_text())
        return [
            int(request["status"])
            for request in _REQUEST.finditer(text)
            if request["method"] == "GET" and request["path"].split("?")[0] == f"/{bucket}/{key}"
        ]


@contextlib.contextmanager
def running_s3(port: int, log_path: Path):
    """Run moto's server on 127.0.0.1:port until the block ends; yields an S3StandIn."""
    moto_server = Path(sys.executable).parent / "moto_server"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [str(moto_server), "-H", "127.0.0.1", "-p", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    stand_in = S3StandIn(f"http://127.0.0.1:{port}", Path(log_path))

    def answers():
        if process.poll() is not None:
            raise RuntimeError(f"moto_server exited:\n{stand_in.log.read_text()}")
        try:
            return requests.get(f"{stand_in.url}/moto-api/", timeout=1).ok
        except requests.ConnectionError:
            return False

    try:
        wait_for(answers, READY_SECONDS, f"moto_server at {stand_in.url}")
        yield stand_in
    finally:
        process.terminate()
        process.wait(timeout=30)
