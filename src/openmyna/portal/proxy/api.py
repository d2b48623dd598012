"""``/api/portal/proxy``: the proxy menu for programs (the browser's session cookie and ``X-CSRF-Token``)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request

from openmyna.core.validation import IdParam
from openmyna.core.web import DbSession, ReadSession, UnitOfWorkRoute, check_csrf
from openmyna.portal.auth.dependencies import CurrentUser, RecentCardAuth
from openmyna.portal.auth.service import PortalUser
from openmyna.portal.proxy import service
from openmyna.portal.proxy.schemas import AcceptIn, ActingOut, GrantIn, GrantOut, InvitationOut, ProxyOverview
from openmyna.portal.proxy.views import grant_view, switch_back, switch_to

router = APIRouter(route_class=UnitOfWorkRoute, tags=["portal"])
Csrf = Annotated[str | None, Header(max_length=128)]


def _acting(user: PortalUser) -> ActingOut | None:
    return (
        None
        if user.proxy is None
        else ActingOut(grant_id=user.proxy.grant_id, principal_name=user.proxy.principal_name)
    )


@router.get("/api/portal/proxy", response_model=ProxyOverview)
def overview(session: ReadSession, user: CurrentUser) -> ProxyOverview:
    """The grants I made and the ones I hold, and whom I act for now (if anyone)."""
    given = service.grants_given(session, principal_resident_id=user.person_id)
    held = service.grants_held(session, proxy_resident_id=user.person_id)
    return ProxyOverview(
        given=[GrantOut(**grant_view(session, g, as_proxy=False)) for g in given],
        held=[GrantOut(**grant_view(session, g, as_proxy=True)) for g in held],
        acting=_acting(user),
    )


@router.post("/api/portal/proxy/grants", response_model=InvitationOut, status_code=201)
def create(
    body: GrantIn, request: Request, session: DbSession, user: RecentCardAuth, x_csrf_token: Csrf = None
) -> InvitationOut:
    """Grant a named person proxy rights (needs a recent card authentication); the code is answered once."""
    check_csrf(request, x_csrf_token)
    made = service.create_grant(
        session,
        principal_resident_id=user.resident_id,
        principal_subject=user.subject,
        family_name=body.family_name,
        given_name=body.given_name,
        birth_date=body.birth_date,
        menus=body.menus,
        ends_on=body.ends_on,
    )
    return InvitationOut(grant=GrantOut(**grant_view(session, made.grant, as_proxy=False)), invitation_code=made.code)


@router.post("/api/portal/proxy/accept", response_model=GrantOut)
def accept(
    body: AcceptIn, request: Request, session: DbSession, user: CurrentUser, x_csrf_token: Csrf = None
) -> GrantOut:
    """The proxy (logged in with their own card) takes up the invitation addressed to them."""
    check_csrf(request, x_csrf_token)
    grant = service.accept(session, code=body.code, resident_id=user.resident_id, subject=user.subject)
    return GrantOut(**grant_view(session, grant, as_proxy=True))


@router.post("/api/portal/proxy/grants/{grant_id}/withdraw", response_model=GrantOut)
def withdraw(
    grant_id: IdParam, request: Request, session: DbSession, user: CurrentUser, x_csrf_token: Csrf = None
) -> GrantOut:
    check_csrf(request, x_csrf_token)
    grant = service.withdraw(session, grant_id=grant_id, principal_resident_id=user.resident_id)
    return GrantOut(**grant_view(session, grant, as_proxy=False))


@router.post("/api/portal/proxy/grants/{grant_id}/resign", response_model=GrantOut)
def resign(
    grant_id: IdParam, request: Request, session: DbSession, user: CurrentUser, x_csrf_token: Csrf = None
) -> GrantOut:
    check_csrf(request, x_csrf_token)
    grant = service.resign(session, grant_id=grant_id, proxy_resident_id=user.resident_id)
    return GrantOut(**grant_view(session, grant, as_proxy=True))


@router.post("/api/portal/proxy/switch/{grant_id}", response_model=ActingOut)
def switch(
    grant_id: IdParam, request: Request, session: DbSession, user: CurrentUser, x_csrf_token: Csrf = None
) -> ActingOut:
    """Act for the principal of this grant from the next request on."""
    check_csrf(request, x_csrf_token)
    acting = switch_to(session, user, grant_id)
    return ActingOut(grant_id=acting["grant_id"], principal_name=acting["name"])


@router.post("/api/portal/proxy/return", status_code=204)
def return_to_self(request: Request, session: DbSession, user: CurrentUser, x_csrf_token: Csrf = None) -> None:
    """Stop acting for anyone."""
    check_csrf(request, x_csrf_token)
    switch_back(session, user)
