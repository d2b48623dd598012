"""Back-office pages: find a resident, read the record with its history and household."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from openmyna.core.errors import DomainError
from openmyna.core.i18n import translate
from openmyna.core.validation import IdParam, SafeText
from openmyna.core.web import DbSession, Keys, Language, UnitOfWorkRoute, render, render_error
from openmyna.numbers import formats
from openmyna.orgs.dependencies import staff_of
from openmyna.orgs.service import Caller
from openmyna.registry import service

router = APIRouter(route_class=UnitOfWorkRoute, include_in_schema=False)


def _staff(request: Request) -> Caller | None:
    return staff_of(request)


def _to_login(request: Request) -> Response:
    """Send a visitor to the login page, to come back to exactly this page (query included)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse("/staff/login?" + urlencode({"next": target}), status_code=303)


def relationship_label(code: str, sex: str, lang: str) -> str:
    """続柄 as the certificate writes it: 妻/夫 and 父/母 by sex."""
    specific = f"relationship.{code}.{sex}"
    text = translate(specific, lang)
    return text if text != specific else translate(f"relationship.{code}", lang)


@router.get("/staff/residents", response_class=HTMLResponse)
def search_page(
    request: Request,
    session: DbSession,
    lang: Language,
    name: Annotated[SafeText, Query(max_length=50)] = "",
    kana: Annotated[SafeText, Query(max_length=100)] = "",
    birth_date: Annotated[str, Query(max_length=10)] = "",
    status: Literal["resident", "moved_out", "deceased", "any"] = "resident",
) -> Response:
    caller = _staff(request)
    if caller is None:
        return _to_login(request)
    context: dict[str, object] = {
        "query": {"name": name, "kana": kana, "birth_date": birth_date, "status": status},
        "results": None,
        "total": 0,
        "error": None,
    }
    if name or kana or birth_date:
        try:
            born = dt.date.fromisoformat(birth_date) if birth_date else None
            total, residents = service.search(
                session,
                caller=caller,
                name=name or None,
                kana=kana or None,
                birth_date=born,
                status=None if status == "any" else status,
                limit=50,
            )
            context.update(results=residents, total=total)
        except ValueError:
            context["error"] = translate("registry.search.birth_date", lang) + ": YYYY-MM-DD"
        except DomainError as exc:
            context["error"] = exc.detail
    context["relationship_label"] = lambda r: relationship_label(r.relationship_code, r.sex, lang)
    return render(request, "registry/search.html", context)


@router.get("/staff/residents/{resident_id}", response_class=HTMLResponse)
def resident_page(resident_id: IdParam, request: Request, session: DbSession, keys: Keys, lang: Language) -> Response:
    caller = _staff(request)
    if caller is None:
        return _to_login(request)
    try:
        resident = service.get_resident(session, resident_id=resident_id, caller=caller, purpose="back-office view")
    except DomainError as exc:
        return render_error(request, exc)
    members = list(resident.household.members) if resident.household else []
    return render(
        request,
        "registry/resident.html",
        {
            "resident": resident,
            "masked_my_number": formats.mask_my_number(service.my_number_of(keys, resident)),
            "members": members,
            "relationship_label": lambda r: relationship_label(r.relationship_code, r.sex, lang),
        },
    )
