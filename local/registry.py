"""A password-protected container registry on 127.0.0.1, standing in for Amazon ECR.

Debian's docker-registry (distribution 2.8) with htpasswd auth for the user AWS (ECR's login name),
filesystem storage, and an access log with one line per request, so tests can count blob uploads
and the bytes of blobs pulled (the log records each response's size).

    from local.registry import running_registry, blob_uploads
    with running_registry(port, password, storage_dir, log_path) as registry:
        ...  # docker login -u AWS --password-stdin registry.address; docker push ...
        uploads = blob_uploads(registry.log_path)

From the shell (runs in the foreground until Ctrl-C or SIGTERM):
    python3 -m local.registry --port 5001 [--password-file F] [--storage DIR] [--log FILE]
"""

import argparse
import base64
import contextlib
import dataclasses
import json
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from local.polling import wait_for

USERNAME = "AWS"
READY_DEADLINE_SECONDS = 30
REQUEST_SECONDS = 10
# What `docker push` (20.10) stores; asked for explicitly, or the registry converts to schema 1.
MANIFEST_TYPE = "application/vnd.docker.distribution.manifest.v2+json"

# One access-log line per request, in Combined Log Format: "METHOD PATH HTTP/1.1" STATUS ...
_REQUEST_LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) HTTP/[\d.]+" (?P<status>\d{3}) ')
_BLOB_UPLOAD_PATH = re.compile(r"^/v2/(?P<name>.+)/blobs/uploads/")
# A blob served: its GET line with the status and the bytes of the response body.
_BLOB_GET = re.compile(
    r'"GET /v2/(?P<name>.+)/blobs/(?P<digest>sha256:[0-9a-f]{64}) HTTP/[\d.]+" '
    r"(?P<status>\d{3}) (?P<bytes>\d+) "
)


@dataclasses.dataclass(frozen=True)
class Registry:
    address: str  # what docker login/push take: 127.0.0.1:PORT
    username: str
    password: str
    log_path: Path


@dataclasses.dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int


@dataclasses.dataclass(frozen=True)
class BlobPull:
    name: str  # the repository it was pulled from
    digest: str
    bytes: int  # the response body's size, as the access log records it


@dataclasses.dataclass(frozen=True)
class Layer:
    digest: str  # the blob's digest, as pushed and pulled
    size: int  # the blob's (compressed) size
    created_by: str  # the build step that made it, from the image's history


def ensure_installed(command, package):
    """Install the Debian package that provides command, as CI machines start without it."""
    if shutil.which(command) is None:
        print(f"registry: installing {package} (apt-get)...", flush=True)
        subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", package], check=True)


def registry_config(port, htpasswd_path, storage_dir):
    """The registry's config.yml (JSON is valid YAML, and json.dumps quotes every value right)."""
    return json.dumps(
        {
            "version": "0.1",
            "log": {"level": "info", "formatter": "text", "accesslog": {"disabled": False}},
            "storage": {
                "filesystem": {"rootdirectory": str(storage_dir)},
                "delete": {"enabled": True},
            },
            "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
            "auth": {"htpasswd": {"realm": "serverless-hub-local", "path": str(htpasswd_path)}},
        },
        indent=2,
    )


def wait_until_ready(process, port, log_path, deadline_seconds=READY_DEADLINE_SECONDS):
    """Poll GET /v2/ until it answers 401 (auth is on), or fail with the log's tail."""
    url = f"http://127.0.0.1:{port}/v2/"

    def answers_401():
        if process.poll() is not None:
            tail = Path(log_path).read_text()[-2000:]
            raise RuntimeError(
                f"docker-registry exited with {process.returncode}; log {log_path}:\n{tail}"
            )
        try:
            urllib.request.urlopen(url, timeout=2)
        except urllib.error.HTTPError as error:
            if error.code == 401:
                return True
            raise
        except (urllib.error.URLError, ConnectionError):
            return False  # not listening yet
        raise RuntimeError(f"{url} answered without credentials: htpasswd auth is not on")

    wait_for(answers_401, deadline_seconds, f"a 401 from {url} (see {log_path})", interval=0.2)


@contextlib.contextmanager
def running_registry(port, password, storage_dir, log_path):
    """Run docker-registry on 127.0.0.1:port for user AWS with password; stop it on exit."""
    ensure_installed("docker-registry", "docker-registry")
    ensure_installed("htpasswd", "apache2-utils")
    Path(storage_dir).mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="registry-config-") as config_dir:
        htpasswd_path = Path(config_dir, "htpasswd")
        # -i reads the password from stdin, so it never shows in the process list.
        htpasswd_path.write_text(
            subprocess.run(
                ["htpasswd", "-niB", USERNAME],
                input=password,
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )
        config_path = Path(config_dir, "config.yml")
        config_path.write_text(registry_config(port, htpasswd_path, storage_dir))
        print(f"registry: starting on 127.0.0.1:{port} (log: {log_path})...", flush=True)
        with open(log_path, "ab") as log:
            process = subprocess.Popen(
                ["docker-registry", "serve", str(config_path)], stdout=log, stderr=subprocess.STDOUT
            )
        try:
            wait_until_ready(process, port, log_path)
            print(f"registry: ready at 127.0.0.1:{port} (user {USERNAME}).", flush=True)
            yield Registry(f"127.0.0.1:{port}", USERNAME, password, Path(log_path))
        finally:
            print("registry: stopping docker-registry...", flush=True)
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def requests_in_log(log_path):
    """Every request the registry logged, in order."""
    matches = (_REQUEST_LINE.search(line) for line in Path(log_path).read_text().splitlines())
    return [Request(m["method"], m["path"], int(m["status"])) for m in matches if m]


def blob_uploads(log_path, name=None):
    """Blob uploads the registry completed: each upload's final PUT ...?digest=..., answered 201."""
    return [
        request
        for request in requests_in_log(log_path)
        if request.method == "PUT"
        and request.status == 201
        and (match := _BLOB_UPLOAD_PATH.match(request.path))
        and (name is None or match["name"] == name)
    ]


def uploaded_digest(upload: Request) -> str:
    """The digest a completed blob upload stored (its final PUT's ?digest=)."""
    return parse_qs(urlparse(upload.path).query)["digest"][0]


def manifest_pushes(log_path, name=None):
    """Manifests the registry stored: each PUT /v2/<name>/manifests/<reference>, answered 201."""
    return [
        request
        for request in requests_in_log(log_path)
        if request.method == "PUT"
        and request.status == 201
        and "/manifests/" in request.path
        and (name is None or request.path.startswith(f"/v2/{name}/manifests/"))
    ]


def blob_pulls(log_path, name=None):
    """Blobs the registry served, in order: each GET of a blob answered 200 (or 206, a range)."""
    matches = (_BLOB_GET.search(line) for line in Path(log_path).read_text().splitlines())
    return [
        BlobPull(m["name"], m["digest"], int(m["bytes"]))
        for m in matches
        if m and m["status"] in ("200", "206") and (name is None or m["name"] == name)
    ]


def fetch(registry: Registry, path: str, method: str = "GET") -> tuple[dict, bytes]:
    """GET (or HEAD) /v2/<path> as user AWS; the answer's headers and body."""
    login = base64.b64encode(f"{registry.username}:{registry.password}".encode()).decode()
    request = urllib.request.Request(
        f"http://{registry.address}/v2/{path}",
        method=method,
        headers={"Authorization": f"Basic {login}", "Accept": MANIFEST_TYPE},
    )
    with urllib.request.urlopen(request, timeout=REQUEST_SECONDS) as answer:
        return dict(answer.headers), answer.read()


def blob_size(registry: Registry, name: str, digest: str) -> int:
    """A blob's size as the registry stores it (a HEAD request)."""
    headers, _ = fetch(registry, f"{name}/blobs/{digest}", method="HEAD")
    return int(headers["Content-Length"])


def manifest_bytes(registry: Registry, name: str, reference: str) -> bytes:
    """The image manifest stored under this tag or digest, as pushed."""
    return fetch(registry, f"{name}/manifests/{reference}")[1]


def image_blobs(registry: Registry, name: str, reference: str) -> tuple[str, list[Layer]]:
    """An image's config digest and its layers, bottom first, each with the step that made it."""
    manifest = json.loads(manifest_bytes(registry, name, reference))
    config_digest = manifest["config"]["digest"]
    config = json.loads(fetch(registry, f"{name}/blobs/{config_digest}")[1])
    steps = [step for step in config.get("history", []) if not step.get("empty_layer")]
    if len(steps) != len(manifest["layers"]):
        steps = [{}] * len(manifest["layers"])  # an image built without history
    return config_digest, [
        Layer(layer["digest"], layer["size"], step.get("created_by", ""))
        for layer, step in zip(manifest["layers"], steps, strict=True)
    ]


def main():
    parser = argparse.ArgumentParser(description="Run the registry on 127.0.0.1 until stopped.")
    parser.add_argument(
        "--port", type=int, default=5001, help="(5000 may be taken by Debian's service)"
    )
    parser.add_argument("--password-file", type=Path, help="default: random, printed")
    parser.add_argument("--storage", type=Path, help="default: a new temporary directory")
    parser.add_argument("--log", type=Path, help="default: STORAGE.log beside it")
    args = parser.parse_args()

    password = (
        args.password_file.read_text().strip() if args.password_file else secrets.token_urlsafe(24)
    )
    storage = args.storage or Path(tempfile.mkdtemp(prefix="registry-storage-"))
    log_path = args.log or storage.parent / f"{storage.name}.log"
    # SIGTERM (kill PID) stops as cleanly as Ctrl-C.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    with running_registry(args.port, password, storage, log_path) as registry:
        if not args.password_file:
            print(f"registry: password for {registry.username}: {password}")
        print(f"registry: storage {storage}; Ctrl-C to stop.", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
