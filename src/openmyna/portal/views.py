"""The portal's front door: the page before login, and My Page (the menu A–G) after it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from openmyna.core.web import ReadSession, UnitOfWorkRoute, render
from openmyna.portal.auth.dependencies import OptionalUser
from openmyna.portal.auth.views import METHOD_NAMES, jst
from openmyna.portal.proxy import service as proxy
from openmyna.registry import service as registry

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


@dataclass(frozen=True)
class Menu:
    key: str
    href: str | None  # None: not offered yet


MENUS = (
    Menu("a", "/portal/history"),
    Menu("b", "/portal/mydata"),
    Menu("c", "/portal/notices"),
    Menu("d", "/portal/notices/delivery"),
    Menu("e", "/eservice"),
    Menu("f", "/portal/payments"),
    Menu("g", "/portal/linked-sites"),
)


@router.get("/portal", response_class=HTMLResponse)
def portal_home(request: Request, db: ReadSession, user: OptionalUser, logged_out: int = 0) -> Response:
    """Before login: what the portal is and how to log in. After login: My Page with the main menu."""
    if user is None:
        return render(request, "portal/home.html", {"logged_out": bool(logged_out)})
    resident = registry.find_resident(db, resident_id=user.resident_id)
    name = f"{resident.family_name} {resident.given_name}" if resident is not None else ""
    granted = None  # every menu; while acting as a proxy, only the letters of the granted menus
    if user.proxy is not None:
        grant = proxy.usable(db, grant_id=user.proxy.grant_id, proxy_resident_id=user.proxy.resident_id)
        granted = {proxy.MENUS[key][0] for key in proxy.menus_of(grant)}
    context = {
        "name": name,
        "method_name": METHOD_NAMES.get(user.method, user.method),
        "authenticated_at": jst(user.authenticated_at)["text"],
        "menus": MENUS,
        "granted": granted,
    }
    return render(request, "portal/mypage.html", context)
