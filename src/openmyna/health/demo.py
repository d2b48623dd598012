"""Demo insurers, clinics and the personas' insurance: every persona's card works at the demo clinics.

- the employee (高橋健太) is in a company's health insurance society and changes job: 協会けんぽ from the
  first day of next month (the old society answers until the day before);
- the parent (山田花子) is a dependant (被扶養者) in 協会けんぽ, with medicines on record;
- the single parent (佐々木美咲) is in the town's National Health Insurance;
- the pensioner (鈴木一郎) is in 後期高齢者医療 and pays 10 %.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from openmyna.core import clock
from openmyna.core.crypto import KeyRing
from openmyna.health import insurers
from openmyna.numbers import formats
from openmyna.orgs import service as orgs
from openmyna.orgs.demo import DEMO_STAFF_PASSWORD, DemoLogin
from openmyna.registry import service as registry

CLINICS = (
    ("1310112345", "千代田内科クリニック", "Chiyoda Internal Medicine Clinic"),
    ("1330112342", "神田歯科医院", "Kanda Dental Clinic"),
    ("1340112341", "飯田橋薬局", "Iidabashi Pharmacy"),
)
RECEPTION = DemoLogin("reception", DEMO_STAFF_PASSWORD, "reception", CLINICS[0][0])
KENPO, KYOKAI = "openmyna-kenpo", "kyoukaikenpo"


def _kokuho(municipality_code: str) -> tuple[str, str]:
    body = municipality_code[:5]
    return f"kokuho-{municipality_code}", body + insurers.insurer_check_digit(body)


def seed_health(session: Session, *, keys: KeyRing, municipality_code: str, persona_ids: dict[str, int]) -> None:
    """The clearing house, four insurers, three clinics with a reception login, and the personas' insurance."""
    insurers.ensure_clearing_house(session, keys=keys)
    town = formats.municipality_name(municipality_code) or municipality_code
    kokuho, kokuho_number = _kokuho(municipality_code)
    for code, name, number, scheme in (
        (KYOKAI, "全国健康保険協会", "01130012", "kyokai"),
        (KENPO, "オープンマイナ健康保険組合", "06131239", "kumiai"),
        (kokuho, f"{town} 国民健康保険", kokuho_number, "kokuho"),
        ("koki-13", "東京都後期高齢者医療広域連合", "39131008", "koki"),
    ):
        insurers.register_insurer(session, keys=keys, code=code, name=name, insurer_number=number, scheme=scheme)
    for code, name, name_en in CLINICS:
        insurers.register_clinic(session, keys=keys, code=code, name=name, name_en=name_en)
    orgs.add_staff(
        session,
        org_code=RECEPTION.org,
        username=RECEPTION.username,
        password=RECEPTION.password,
        display_name="千代田内科クリニック 受付",
        role=RECEPTION.role,
    )
    today = clock.today()
    next_month = (today.replace(day=1) + dt.timedelta(days=32)).replace(day=1)

    def number_of(persona: str) -> str | None:
        resident = registry.find_resident(session, resident_id=persona_ids[persona]) if persona in persona_ids else None
        return registry.my_number_of(keys, resident) if resident is not None else None

    plan = (
        ("employee", KENPO, "1001", "5521", "00", 0.3, dt.date(2021, 4, 1), "insured"),
        ("employee", KYOKAI, "30871204", "17", "00", 0.3, next_month, "insured"),
        ("parent", KYOKAI, "30870512", "42", "01", 0.3, dt.date(2012, 4, 1), "dependant"),
        ("single_parent", kokuho, "千01", "203344", "00", 0.3, dt.date(2018, 10, 1), "insured"),
        ("pensioner", "koki-13", "", "13009876", "00", 0.1, dt.date(2023, 11, 23), "insured"),
    )
    for persona, insurer, symbol, number, branch, ratio, since, relation in plan:
        my_number = number_of(persona)
        if my_number is None:
            continue
        row = insurers.enrol(
            session,
            keys=keys,
            insurer=insurer,
            my_number=my_number,
            symbol=symbol or "-",
            number=number,
            branch=branch,
            burden_ratio=ratio,
            valid_from=since,
            relation=relation,
        )
        if persona in ("parent", "pensioner", "single_parent") and since <= today:
            for back, medicine, dose, days in (
                (12, "アムロジピン錠5mg", "1日1回 1錠", 28),
                (40, "ロキソプロフェンNa錠60mg", "1日3回 1錠", 5),
            ):
                insurers.add_dispensed(
                    session,
                    insurer=insurer,
                    person_code=row.person_code,
                    dispensed_on=today - dt.timedelta(days=back),
                    medicine=medicine,
                    dose=dose,
                    days=days,
                    pharmacy=CLINICS[2][1],
                )
