"""Schemathesis hooks for the Agents API (loaded by scripts/schemathesis.sh through
SCHEMATHESIS_HOOKS): the signature every request needs, and a check that it works.

QuantConnect's signature is HTTP Basic with the user id as user name and, as password, the
lowercase hex SHA-256 of "{api_token}:{timestamp}", plus a `Timestamp` header with the same
Unix seconds (see src/auth.rs). The credentials come from QC_USER_ID and QC_API_TOKEN.
"""

import base64
import hashlib
import os
import time

import schemathesis


def authorization(timestamp: str) -> str:
    """The Authorization header for `timestamp`."""
    user_id = os.environ["QC_USER_ID"]
    token = os.environ["QC_API_TOKEN"]
    digest = hashlib.sha256(f"{token}:{timestamp}".encode()).hexdigest()
    return "Basic " + base64.b64encode(f"{user_id}:{digest}".encode()).decode()


# No caching (refresh_interval=None): each request is signed afresh, as the client does.
@schemathesis.auth(refresh_interval=None)
class QuantConnectSignature:
    def get(self, case, ctx):
        return str(int(time.time()))

    def set(self, case, data, ctx):
        case.headers = case.headers or {}
        case.headers["Authorization"] = authorization(data)
        case.headers["Timestamp"] = data


@schemathesis.check
class SignedRequestsAreAccepted:
    """A request that carries a right signature is never answered 401, and at least one is
    answered `success: true`: else a broken signature would pass every other check, since
    the spec documents the 401."""

    def __init__(self):
        self.succeeded = False

    def after_response(self, ctx, response, case):
        sent = response.request.headers
        timestamp = sent.get("Timestamp")
        signed = timestamp is not None and sent.get("Authorization") == authorization(timestamp)
        if signed and response.status_code == 401:
            raise AssertionError("a correctly signed request was answered 401")
        if signed and response.status_code == 200:
            try:
                self.succeeded = self.succeeded or response.json().get("success") is True
            except (ValueError, AttributeError):
                pass

    def after_run(self, ctx):
        if not self.succeeded:
            raise AssertionError("no signed request was answered success: true")
