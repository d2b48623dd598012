"""What each certificate kind says, built from the municipality's own ledgers as of now (DOMAIN.md §6).

A :class:`Document` is the content only: the title, a block of labelled lines per person, the
certification sentence and, for the seal certificate, the impression. ``pdf`` draws it; ``summary``
is what the public check page may show. The My Number appears only when asked for, revealed through
``numbers.protection`` (by ``registry.my_number_of``) straight onto the document: never logged or stored.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from openmyna.core.crypto import KeyRing
from openmyna.core.errors import Conflict, InvalidInput, NotFound
from openmyna.core.i18n import era_date, translate
from openmyna.kiosk.municipalities import KIND_NAMES, Municipality
from openmyna.localtax import service as localtax
from openmyna.orgs.service import Caller
from openmyna.registry import seals
from openmyna.registry import service as registry
from openmyna.registry.models import RESIDENT, Resident
from openmyna.registry.views import relationship_label

Lines = tuple[tuple[str, str], ...]


class NotOnRegistry(Conflict):
    slug = "kiosk-not-on-registry"
    title_ja = "住民票が除票となっているため、コンビニでは交付できません。市区町村の窓口へお越しください"
    title_en = "The resident record is closed (moved out or deceased); ask at the town hall"


class NothingToCertify(NotFound):
    slug = "kiosk-nothing-to-certify"
    title_ja = "証明する記録がありません"
    title_en = "There is no record to certify"


class UnsupportedOption(InvalidInput):
    slug = "kiosk-unsupported-option"
    title_ja = "選択された記載事項は交付できません"
    title_en = "The requested option cannot be issued"


@dataclass(frozen=True)
class Options:
    """What the resident chose at the kiosk (住民票: whole household or alone; items only on request)."""

    household: bool = True
    my_number: bool = False
    resident_code: bool = False
    honseki: bool = False

    @classmethod
    def parse(cls, values: dict[str, Any] | None) -> Options:
        values = values or {}
        unknown = set(values) - {"household", "my_number", "resident_code", "honseki"}
        if unknown:
            raise UnsupportedOption(f"unknown options: {', '.join(sorted(unknown))}")
        if not all(isinstance(v, bool) for v in values.values()):
            raise UnsupportedOption("every option is true or false")
        return cls(**values)

    def as_dict(self) -> dict[str, bool]:
        return {
            "household": self.household,
            "my_number": self.my_number,
            "resident_code": self.resident_code,
            "honseki": self.honseki,
        }


@dataclass(frozen=True)
class Document:
    kind: str
    title: str
    blocks: tuple[Lines, ...]
    certification: str
    holder_name: str
    holder_birth: dt.date
    seal_png: bytes | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def summary(self) -> dict[str, Any]:
        """What the public check page shows: the kind, whose it is, how many people it names."""
        return {
            "kind": self.kind,
            "title": self.title,
            "name": self.holder_name,
            "birth_date": self.holder_birth.isoformat(),
            "people": len(self.blocks),
        }


def _address(resident: Resident) -> str:
    building = f" {resident.address_building}" if resident.address_building else ""
    return f"{resident.prefecture}{resident.city}{resident.address_town}{resident.address_block}{building}"


def _name(resident: Resident) -> str:
    former = f"（旧氏 {resident.former_family_name}）" if resident.former_family_name else ""
    return f"{resident.family_name}　{resident.given_name}{former}"


def _notified_on(resident: Resident) -> dt.date:
    return resident.history[-1].notified_on if resident.history else resident.address_since


def _person_lines(resident: Resident, options: Options, keys: KeyRing) -> Lines:
    lines: list[tuple[str, str]] = [
        ("氏名", _name(resident)),
        ("フリガナ", f"{resident.family_name_kana}　{resident.given_name_kana}"),
        ("生年月日", era_date(resident.birth_date)),
        ("性別", translate(f"sex.{resident.sex}", "ja")),
        ("続柄", relationship_label(resident.relationship_code, resident.sex, "ja")),
        ("住民となった年月日", era_date(resident.became_resident_on)),
        ("住所を定めた年月日", f"{era_date(resident.address_since)}　届出 {era_date(_notified_on(resident))}"),
        ("従前の住所", resident.previous_address or "—"),
    ]
    if options.resident_code:
        lines.append(("住民票コード", resident.resident_code))
    if options.my_number:
        number = registry.my_number_of(keys, resident)
        lines.append(("個人番号", f"{number[:4]} {number[4:8]} {number[8:]}"))
    return tuple(lines)


def _require_resident(resident: Resident) -> None:
    if resident.status != RESIDENT:
        raise NotOnRegistry(f"the record is {resident.status}; a removed record (除票) is issued at the town hall")


def juminhyo(session: Session, *, resident: Resident, options: Options, keys: KeyRing, mayor: str) -> Document:
    """住民票の写し: the household (or the resident alone), optional items only on request."""
    _require_resident(resident)
    if options.honseki:
        raise UnsupportedOption("本籍・筆頭者 needs the family register, which this municipality does not hold here")
    members = registry.household_members(session, resident=resident) if options.household else [resident]
    head = next((m for m in members if m.relationship_code == "head"), None)
    blocks = tuple(_person_lines(m, options, keys) for m in members)
    header: Lines = (("住所", _address(resident)), ("世帯主", _name(head) if head else "—"))
    whole = "世帯全員" if options.household else "世帯の一部"
    notes = ["本籍・筆頭者の記載は省略"]
    if not options.my_number:
        notes.append("個人番号の記載は省略")
    if not options.resident_code:
        notes.append("住民票コードの記載は省略")
    return Document(
        kind="juminhyo",
        title="住民票の写し",
        blocks=(header, *blocks),
        certification=f"この写しは、{whole}の住民票の原本と相違ないことを証明する。",
        holder_name=_name(resident),
        holder_birth=resident.birth_date,
        notes=tuple(notes),
    )


def juminhyo_kisai(session: Session, *, resident: Resident, options: Options, keys: KeyRing, mayor: str) -> Document:
    """住民票記載事項証明書: the four facts of the resident as the record states them."""
    _require_resident(resident)
    lines: Lines = (
        ("氏名", _name(resident)),
        ("生年月日", era_date(resident.birth_date)),
        ("性別", translate(f"sex.{resident.sex}", "ja")),
        ("住所", _address(resident)),
        ("住民となった年月日", era_date(resident.became_resident_on)),
    )
    return Document(
        kind="juminhyo_kisai",
        title="住民票記載事項証明書",
        blocks=(lines,),
        certification="上記の事項は、住民票に記載されていることを証明する。",
        holder_name=_name(resident),
        holder_birth=resident.birth_date,
    )


def inkan(
    session: Session, *, resident: Resident, options: Options, keys: KeyRing, mayor: str, caller: Caller
) -> Document:
    """印鑑登録証明書: the registered impression, name, birth date, address and sex."""
    _require_resident(resident)
    try:
        registration = seals.current(session, resident_id=resident.id, caller=caller, purpose="kiosk")
    except seals.NoSealRegistered as exc:
        raise NothingToCertify("no seal is registered; register one at the town hall") from exc
    lines: Lines = (
        ("氏名", _name(resident)),
        ("生年月日", era_date(resident.birth_date)),
        ("性別", translate(f"sex.{resident.sex}", "ja")),
        ("住所", _address(resident)),
        ("印鑑登録番号", registration.card_number),
        ("登録年月日", era_date(registration.registered_on)),
    )
    return Document(
        kind="inkan",
        title="印鑑登録証明書",
        blocks=(lines,),
        certification="この写しは、登録されている印影と相違ないことを証明する。",
        holder_name=_name(resident),
        holder_birth=resident.birth_date,
        seal_png=registration.seal_image,
    )


def tax(session: Session, *, resident: Resident, options: Options, keys: KeyRing, mayor: str) -> Document:
    """所得・課税証明書 of the newest fiscal year in the municipal tax ledger."""
    _require_resident(resident)
    assessments = localtax.assessments_for(session, resident_id=resident.id, limit=1)
    if not assessments:
        raise NothingToCertify("the tax ledger holds no assessment for this resident")
    a = assessments[0]
    year = era_date(dt.date(a.fiscal_year, 4, 1)).split("年")[0] + "年度"
    lines: Lines = (
        ("年度", year),
        ("氏名", _name(resident)),
        ("生年月日", era_date(resident.birth_date)),
        ("住所", _address(resident)),
        ("総所得金額", f"{a.income:,}円"),
        ("課税標準額", f"{a.taxable_income:,}円"),
        ("扶養親族の数", f"{a.dependants}人"),
        ("市区町村民税", f"{a.municipal_tax:,}円"),
        ("道府県民税", f"{a.prefectural_tax:,}円"),
        ("課税区分", "課税" if a.taxed else "非課税"),
    )
    return Document(
        kind="tax",
        title="所得・課税証明書",
        blocks=(lines,),
        certification="上記のとおり相違ないことを証明する。",
        holder_name=_name(resident),
        holder_birth=resident.birth_date,
    )


def build(
    session: Session,
    *,
    kind: str,
    resident: Resident,
    options: Options,
    keys: KeyRing,
    municipality: Municipality,
    caller: Caller,
) -> Document:
    """The document of ``kind`` for ``resident``; kinds the platform cannot build yet are refused."""
    if kind == "inkan":
        return inkan(session, resident=resident, options=options, keys=keys, mayor=municipality.mayor, caller=caller)
    builders = {"juminhyo": juminhyo, "juminhyo_kisai": juminhyo_kisai, "tax": tax}
    builder = builders.get(kind)
    if builder is None:
        raise NothingToCertify(f"{KIND_NAMES.get(kind, (kind,))[0]} needs the family register, not held here")
    return builder(session, resident=resident, options=options, keys=keys, mayor=municipality.mayor)
