"""The FastAPI application factory: settings in, a ready app out; nothing built at import time."""

from __future__ import annotations

from fastapi import Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.middleware.sessions import SessionMiddleware

from openmyna import __version__
from openmyna.app import views
from openmyna.app.background import lifespan
from openmyna.app.wiring import wire
from openmyna.card import api as card_api
from openmyna.card import views as card_views
from openmyna.carduses import api as carduses_api
from openmyna.carduses import views as carduses_views
from openmyna.carduses.tickets import api as tickets_api
from openmyna.carduses.tickets import views as tickets_views
from openmyna.core import sessions
from openmyna.core.config import Settings
from openmyna.core.context import open_context
from openmyna.core.errors import install_problem_handlers
from openmyna.core.headers import SecurityHeaders
from openmyna.core.limits import BodyLimits
from openmyna.core.web import build_templates
from openmyna.corporate import api as corporate_api
from openmyna.corporate import nta_api as corporate_nta_api
from openmyna.corporate import views as corporate_views
from openmyna.ekyc import api as ekyc_api
from openmyna.eservice import api as eservice_api
from openmyna.eservice import office_api as eservice_office_api
from openmyna.eservice import office_views as eservice_office_views
from openmyna.eservice import views as eservice_views
from openmyna.eservice.service import catalogue_for
from openmyna.health import api as health_api
from openmyna.health import views as health_views
from openmyna.jpki import api as jpki_api
from openmyna.kiosk import api as kiosk_api
from openmyna.kiosk import terminal_views as kiosk_terminal
from openmyna.kiosk import views as kiosk_views
from openmyna.kiosk.municipalities import municipalities as kiosk_municipalities
from openmyna.koseki import api as koseki_api
from openmyna.network import api as network_api
from openmyna.network.table import load_table
from openmyna.numbers import api as numbers_api
from openmyna.orgs import api as orgs_api
from openmyna.orgs import views as orgs_views
from openmyna.portal import views as portal_views
from openmyna.portal.auth import api as portal_auth_api
from openmyna.portal.auth import dependencies as portal_auth
from openmyna.portal.auth import views as portal_auth_views
from openmyna.portal.history import certificates as portal_certificates
from openmyna.portal.history import views as portal_history_views
from openmyna.portal.inquiries import views as portal_inquiries_views
from openmyna.portal.mydata import views as portal_mydata_views
from openmyna.portal.notices import api as portal_notices_api
from openmyna.portal.notices import queue as portal_notices_queue
from openmyna.portal.notices import staff_views as portal_notices_staff
from openmyna.portal.notices import views as portal_notices_views
from openmyna.portal.oidc import api as oidc_api
from openmyna.portal.oidc import demo_rp
from openmyna.portal.oidc import views as oidc_views
from openmyna.portal.payments import setup as portal_payments
from openmyna.portal.proxy import api as portal_proxy_api
from openmyna.portal.proxy import views as portal_proxy_views
from openmyna.portal.settings import views as portal_settings_views
from openmyna.registry import api as registry_api
from openmyna.registry import views as registry_views

DESCRIPTION = """\
openmyna: Japan's My Number platform, runnable. Every error is RFC 9457 problem+json.

Machine clients authenticate with OAuth2 client credentials and `private_key_jwt` (RFC 7523) at
`POST /oauth/token`, then send `Authorization: Bearer …`. Back-office staff use a session cookie.
"""


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the application with its own engine, keys and templates."""
    context = open_context(settings, engine=engine)
    app = FastAPI(
        title="openmyna",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        dependencies=[Depends(sessions.load)],  # every page and API sees the server-side session, if any
    )
    app.state.settings = context.settings
    app.state.engine = context.engine
    app.state.session_factory = context.session_factory
    app.state.read_session_factory = context.read_session_factory
    app.state.keys = context.keys
    app.state.templates = build_templates()
    app.state.exchange_table = load_table(context.settings.exchange_table_path)
    app.state.eservice_catalogue = catalogue_for(context.settings)  # a broken procedure file stops start-up here
    app.state.network_providers = {}
    app.state.kiosk_municipalities = kiosk_municipalities(context.settings.kiosk_municipalities_dir)  # validated now
    app.state.notice_queue = portal_notices_queue.from_settings(context.settings)
    app.add_middleware(
        SessionMiddleware,
        secret_key=context.keys.session_secret,
        session_cookie="openmyna_session",
        max_age=context.settings.session_absolute_timeout_seconds,
        same_site="lax",
        https_only=context.settings.session_https_only,
    )
    install_problem_handlers(app)
    portal_auth.install(app)
    portal_proxy_views.install(app)
    app.add_middleware(BodyLimits, max_bytes=context.settings.max_body_bytes, max_depth=context.settings.max_json_depth)
    app.add_middleware(
        SecurityHeaders,
        https=context.settings.uses_https,
        docs_paths=(app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url),
    )
    wire(context.settings, context.keys)
    app.mount("/static", StaticFiles(packages=[("openmyna.core", "static")]), name="static")
    app.mount("/portal/static", StaticFiles(packages=[("openmyna.portal", "static")]), name="portal-static")
    app.mount("/eservice/static", StaticFiles(packages=[("openmyna.eservice", "static")]), name="eservice-static")
    app.mount("/carduses/static", StaticFiles(packages=[("openmyna.carduses", "static")]), name="carduses-static")
    app.mount("/health/static", StaticFiles(packages=[("openmyna.health", "static")]), name="health-static")
    app.mount("/kiosk/static", StaticFiles(packages=[("openmyna.kiosk", "static")]), name="kiosk-static")
    for router in (
        network_api.router,  # first: the exchange query is the busiest route, and routes are matched in order
        views.router,
        numbers_api.router,
        orgs_api.router,
        orgs_views.router,
        registry_api.router,
        jpki_api.router,
        card_api.router,
        card_api.stats_router,
        card_views.router,
        registry_views.router,
        koseki_api.router,
        corporate_api.router,
        corporate_nta_api.router,
        corporate_views.router,
        corporate_views.api_router,
        portal_views.router,
        portal_auth_views.router,
        portal_auth_api.router,
        portal_history_views.router,
        portal_certificates.router,
        portal_mydata_views.router,
        portal_notices_api.router,
        portal_notices_views.router,
        portal_notices_staff.router,
        portal_settings_views.router,
        portal_inquiries_views.router,
        portal_proxy_views.router,
        portal_proxy_api.router,
        oidc_api.router,
        oidc_views.router,
        demo_rp.router,
        eservice_api.router,
        eservice_views.router,
        health_api.router,
        health_views.router,
        carduses_api.router,
        carduses_views.router,
        ekyc_api.router,
        tickets_api.router,
        tickets_views.router,
        kiosk_api.router,
        kiosk_views.router,
        kiosk_views.api_router,
        kiosk_terminal.router,
        eservice_office_api.router,
        eservice_office_views.router,
    ):
        app.include_router(router)
    portal_payments.install(app)
    return app


def create_server_app(settings: Settings | None = None, *, engine: Engine | None = None) -> jpki_api.OcspFastPath:
    """What ``openmyna serve`` runs: the application behind the OCSP fast path.

    OCSP answers are pre-signed blobs in memory; the fast path answers them before FastAPI's and
    Starlette's own layers run (about half the cost of a request on 2 cores), everything else goes on to
    the application unchanged. The application's routes answer OCSP the same way where it runs alone.
    """
    return jpki_api.OcspFastPath(create_app(settings, engine=engine))
