"""An organisation's machine client: OAuth2 client credentials with private_key_jwt (RFC 7523), token cached.

Any role that runs on its own host calls another through this: the hub asking a remote provider, a kiosk
asking the issuance centre, the centre asking a municipality's certificate server.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import httpx

from openmyna.orgs.service import ASSERTION_TYPE


class TokenRefused(Exception):
    """The token endpoint did not give this organisation a token (``status`` is its HTTP status)."""

    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class _CachedToken:
    value: str
    expires: float


class OrgTokenSource:
    """Access tokens of one organisation for one server and scope, renewed 10 s before they expire."""

    def __init__(self, *, base_url: str, org_code: str, private_pem: bytes, scope: str, client: httpx.Client) -> None:
        self.base_url = base_url.rstrip("/")
        self.org_code, self.scope, self.client = org_code, scope, client
        self._private_pem = private_pem
        self._token: _CachedToken | None = None
        self._lock = threading.Lock()

    def bearer(self) -> str:
        """A current access token (raises :class:`TokenRefused`, or ``httpx.HTTPError`` when unreachable)."""
        with self._lock:
            if self._token and self._token.expires > time.monotonic() + 10:
                return self._token.value
            from authlib.oauth2.rfc7523 import private_key_jwt_sign
            from joserfc.jwk import ECKey

            endpoint = f"{self.base_url}/oauth/token"
            assertion = private_key_jwt_sign(ECKey.import_key(self._private_pem), self.org_code, endpoint, alg="ES256")
            response = self.client.post(
                endpoint,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.org_code,
                    "scope": self.scope,
                    "client_assertion_type": ASSERTION_TYPE,
                    "client_assertion": assertion,
                },
            )
            if response.status_code != 200:
                raise TokenRefused(
                    f"{self.base_url} refused the credentials of {self.org_code} ({response.status_code})",
                    status=response.status_code,
                )
            body = response.json()
            self._token = _CachedToken(body["access_token"], time.monotonic() + int(body["expires_in"]))
            return self._token.value

    def forget(self) -> None:
        """Drop the cached token (the server said it no longer accepts it)."""
        with self._lock:
            self._token = None
