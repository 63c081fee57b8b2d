"""An S3 object the hub reads again and again: the user lists, the users' servers' settings.

Each read after the first sends the last ETag (a conditional GET), so an unchanged object costs one
request and no body; a read never takes more than `max_bytes` of it. An object that is too large
or does not parse is bad until it changes: each read says so again, 304 or not, and its reader
keeps what it had. boto3's own credential chain finds the task role on ECS; AWS_ENDPOINT_URL_S3,
if set, points it elsewhere (the tests' stand-in).
"""

import re
from collections.abc import Callable
from typing import TypeVar

from botocore.config import Config
from botocore.exceptions import ClientError

# S3's bucket naming rules (lowercase, 3 to 63 characters); the key is everything after the '/'.
_S3_URL = re.compile(r"s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>.+)")
# A stuck read must not hold the hub for long; retries as AWS's SDKs do.
_CLIENT_CONFIG = Config(retries={"mode": "standard"}, connect_timeout=5, read_timeout=10)
Parsed = TypeVar("Parsed")


class S3ObjectError(ValueError):
    """The object cannot be read, or is not good; the message names it."""


def parse_s3_url(variable: str, url: str) -> tuple[str, str]:
    """The bucket and key of an s3:// URL; S3ObjectError naming `variable` if it is not one."""
    match = _S3_URL.fullmatch(url)
    if not match:
        raise S3ObjectError(
            f"{variable}: must be s3://<bucket>/<key> with a valid bucket name (got {url!r})"
        )
    return match["bucket"], match["key"]


def described(error: Exception) -> str:
    """An exception in one line: its kind and message (a 5,000-digit number's is long)."""
    message = " ".join(str(error).split())
    return f"{type(error).__name__}: {message[:300]}"


class ChangedObject:
    """One S3 object, read only when it changed since the last read."""

    def __init__(self, variable: str, url: str, max_bytes: int):
        self.bucket, self.key = parse_s3_url(variable, url)
        self.url, self.max_bytes = url, max_bytes
        self._etag = None
        self._client = None
        # What is wrong with the object as last read: None when it is good.
        self._problem = None

    def read(
        self, parse: Callable[[bytes], Parsed], refusals: tuple[type[Exception], ...]
    ) -> Parsed | None:
        """What `parse` makes of the object if it changed since the last read, None if unchanged.
        S3ObjectError says why it cannot be read (read again next time) or is not good (until it
        changes): too large, or refused by `parse` (with a `refusals` message of its own, or any
        other exception, named)."""
        request = {"Bucket": self.bucket, "Key": self.key}
        if self._etag:
            request["IfNoneMatch"] = self._etag
        try:
            # Imported here: the program imports the hub's rules (user_servers.py) without boto3.
            import boto3

            self._client = self._client or boto3.session.Session().client(
                "s3", config=_CLIENT_CONFIG
            )
            answer = self._client.get_object(**request)
            size = answer.get("ContentLength") or 0
            # One byte past the cap tells, whatever the length header says; a bigger one is unread.
            body = answer["Body"].read(self.max_bytes + 1) if size <= self.max_bytes else b""
            answer["Body"].close()
        except ClientError as error:
            # botocore raises on S3's 304 Not Modified: the object is as last read.
            if error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 304:
                if self._problem:
                    raise S3ObjectError(self._problem) from None
                return None
            details = error.response.get("Error", {})
            raise S3ObjectError(
                f"{self.url}: cannot be read ({details.get('Code')}: {details.get('Message')})"
            ) from None
        except Exception as error:  # any failure to read: read again next time
            raise S3ObjectError(f"{self.url}: cannot be read ({described(error)})") from None
        self._etag = answer.get("ETag")
        if max(size, len(body)) > self.max_bytes:
            self._problem = (
                f"{self.url}: is {max(size, len(body)):,} bytes or more, over the "
                f"{self.max_bytes:,} the hub reads"
            )
            raise S3ObjectError(self._problem)
        try:
            parsed = parse(body)
        except refusals as error:
            self._problem = str(error)
        except Exception as error:  # any failure to parse: a bad object until it changes
            self._problem = f"{self.url}: cannot be parsed ({described(error)})"
        else:
            self._problem = None
            return parsed
        raise S3ObjectError(self._problem)


class ProblemLog:
    """What the hub's log says of an object it keeps reading: one line when a problem starts (not
    at every read while it lasts), another when the object is good again."""

    def __init__(self, what: str, url: str):
        self.what, self.url = what, url
        # The problem last logged, or "" while the object is good.
        self.reported = ""

    def bad(self, log, problem: str) -> None:
        if problem != self.reported:
            log.error("Keeping the last good %s: %s", self.what, problem)
            self.reported = problem

    def good(self, log) -> None:
        if self.reported:
            log.info("The %s at %s are good again", self.what, self.url)
            self.reported = ""
