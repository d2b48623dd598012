"""A real provider for the relying-party libraries: ``openmyna serve``'s app on a loopback port, a resident, a login.

The resident is born through the registry's HTTP API with the town's private_key_jwt token; the linked sites are
registered with the ``openmyna portal rp add`` command, whose JSON output is what an operator would paste into
a relying party's configuration. The login is a portal session written by ``portal.auth.service.begin`` (what
the card and QR logins call) in the signed cookie a browser would carry.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx

from openmyna.core.config import Settings
from openmyna.core.context import AppContext
from tests.portal import sessions as sessions_helper
from tests.portal.sessions import SESSION_COOKIE


@dataclass(frozen=True)
class Site:
    client_id: str
    client_secret: str
    redirect_uri: str
    post_logout_redirect_uri: str


def environment(settings: Settings) -> dict[str, str]:
    assert settings.data_key is not None
    return {
        **os.environ,
        "OPENMYNA_DATABASE_URL": settings.database_url,
        "OPENMYNA_VAR_DIR": str(settings.var_dir),
        "OPENMYNA_DATA_KEY": settings.data_key.get_secret_value(),
        "OPENMYNA_BASE_URL": settings.base_url,
    }


def add_site(settings: Settings, name: str, redirect_uri: str, post_logout_redirect_uri: str) -> Site:
    """``openmyna portal rp add``: its standard output must be exactly one JSON object."""
    command = [str(Path(sys.executable).parent / "openmyna"), "portal", "rp", "add", name]
    command += ["--redirect-uri", redirect_uri, "--post-logout-redirect-uri", post_logout_redirect_uri]
    done = subprocess.run(command, env=environment(settings), capture_output=True, text=True, timeout=60, check=True)
    output = json.loads(done.stdout)
    assert set(output) == {"client_id", "client_secret"}
    return Site(output["client_id"], output["client_secret"], redirect_uri, post_logout_redirect_uri)


def portal_cookie(context: AppContext, resident_id: int) -> str:
    """The signed session cookie of a fresh portal login of ``resident_id`` on a live server."""
    return sessions_helper.portal_cookie(
        context.session_factory, settings=context.settings, keys=context.keys, resident_id=resident_id
    )[0]


def browser(base_url: str, cookie: str) -> httpx.Client:
    """A resident's browser: the portal cookie, HTML accepted, redirects shown rather than followed."""
    client = httpx.Client(base_url=base_url, trust_env=False, timeout=30, headers={"accept": "text/html"})
    client.cookies.set(SESSION_COOKIE, cookie, domain="127.0.0.1")
    return client
