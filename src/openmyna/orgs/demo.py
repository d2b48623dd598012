"""The demo's organisations and back-office logins."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.numbers import formats
from openmyna.orgs import service

DEMO_STAFF_PASSWORD = "openmyna-demo"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    org: str


def demo_logins(municipality_code: str) -> list[DemoLogin]:
    return [
        DemoLogin("clerk", DEMO_STAFF_PASSWORD, "clerk", municipality_code),
        DemoLogin("viewer", DEMO_STAFF_PASSWORD, "viewer", municipality_code),
    ]


def seed_organisations(session: Session, *, keys: KeyRing, municipality_code: str) -> list[DemoLogin]:
    """The town hall, national agencies and a platform operator, each with a key the platform holds."""
    town = formats.municipality_name(municipality_code) or municipality_code
    orgs = [
        (municipality_code, town, "municipality"),
        ("mhlw", "厚生労働省", "ministry"),
        ("nenkin", "日本年金機構", "pension_office"),
        ("kyoukaikenpo", "全国健康保険協会", "insurer"),
        ("jlis", "地方公共団体情報システム機構", "platform_operator"),
        ("mynaportal", "マイナポータル", "platform_operator"),  # asks for a person's own data (menu B)
    ]
    for code, name, kind in orgs:
        service.add_organisation(session, keys=keys, code=code, name=name, kind=kind, custodial=True)
    logins = [
        DemoLogin("clerk", DEMO_STAFF_PASSWORD, "clerk", municipality_code),
        DemoLogin("viewer", DEMO_STAFF_PASSWORD, "viewer", municipality_code),
    ]
    for login, display in zip(logins, (f"{town} 窓口職員", f"{town} 閲覧職員"), strict=True):
        service.add_staff(
            session,
            org_code=login.org,
            username=login.username,
            password=login.password,
            display_name=display,
            role=login.role,
        )
    return logins
