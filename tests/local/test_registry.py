"""The stand-in registry wants user AWS's password and logs every completed blob upload."""

import hashlib
import secrets
from urllib.parse import parse_qs, urljoin, urlparse

import requests

from local.registry import blob_uploads


def test_a_wrong_password_is_refused(registry):
    answer = requests.get(f"http://{registry.address}/v2/", auth=("AWS", "wrong"), timeout=10)
    assert answer.status_code == 401


def test_each_completed_blob_upload_is_in_the_log(registry):
    blob = secrets.token_bytes(64)
    digest = f"sha256:{hashlib.sha256(blob).hexdigest()}"
    auth = (registry.username, registry.password)
    before = len(blob_uploads(registry.log_path))

    # A monolithic upload, as the registry API defines it: POST opens, PUT with the digest closes.
    base = f"http://{registry.address}"
    opened = requests.post(f"{base}/v2/standin/blobs/uploads/", auth=auth, timeout=10)
    assert opened.status_code == 202
    location = urljoin(base, opened.headers["Location"])
    closed = requests.put(
        location,
        params={"digest": digest},
        data=blob,
        headers={"Content-Type": "application/octet-stream"},
        auth=auth,
        timeout=10,
    )
    assert closed.status_code == 201

    uploads = blob_uploads(registry.log_path)[before:]
    assert [parse_qs(urlparse(u.path).query)["digest"][0] for u in uploads] == [digest]
    assert blob_uploads(registry.log_path, name="another-repository") == []
