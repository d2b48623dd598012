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
from openmyna.kiosk.municipalities import Municipality
from openmyna.koseki import service as koseki
from openmyna.koseki.models import FamilyRegisterMember
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


def _honseki_lines(session: Session, resident: Resident, options: Options) -> Lines:
    """本籍 and 筆頭者 of the person's family register, on request only (the 住民票 omits them by default)."""
    if not options.honseki:
        return ()
    try:
        found = koseki.register_of(session, resident_id=resident.id)
    except koseki.NoFamilyRegister:
        return (("本籍", "（戸籍の記録なし）"), ("筆頭者", "—"))
    return (("本籍", found.register.honseki), ("筆頭者", found.register.head_name))


def _require_resident(resident: Resident) -> None:
    if resident.status != RESIDENT:
        raise NotOnRegistry(f"the record is {resident.status}; a removed record (除票) is issued at the town hall")


def juminhyo(session: Session, *, resident: Resident, options: Options, keys: KeyRing, mayor: str) -> Document:
    """住民票の写し: the household (or the resident alone), optional items only on request."""
    _require_resident(resident)
    members = registry.household_members(session, resident=resident) if options.household else [resident]
    head = next((m for m in members if m.relationship_code == "head"), None)
    blocks = tuple(_person_lines(m, options, keys) + _honseki_lines(session, m, options) for m in members)
    header: Lines = (("住所", _address(resident)), ("世帯主", _name(head) if head else "—"))
    whole = "世帯全員" if options.household else "世帯の一部"
    notes = [] if options.honseki else ["本籍・筆頭者の記載は省略"]
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


def _register_of(session: Session, resident: Resident) -> koseki.Register:
    try:
        return koseki.register_of(session, resident_id=resident.id)
    except koseki.NoFamilyRegister as exc:
        raise NothingToCertify("no family register names this person") from exc


def family_register_keeper(session: Session, resident: Resident) -> str:
    """The municipality that keeps the person's family register (its 本籍), which issues 戸籍 certificates."""
    return _register_of(session, resident).register.honseki_municipality_code


def _register_header(found: koseki.Register) -> Lines:
    return (
        ("本籍", found.register.honseki),
        ("氏名", found.register.head_name),
        ("戸籍編製", f"{era_date(found.register.made_on)}　{found.register.made_reason}"),
    )


def _member_lines(member: FamilyRegisterMember) -> Lines:
    lines: list[tuple[str, str]] = [
        ("戸籍に記録されている者", f"{member.family_name}　{member.given_name}"),
        ("生年月日", era_date(member.birth_date)),
        ("父", member.father or "—"),
        ("母", member.mother or "—"),
        ("続柄", member.relation),
    ]
    lines += [
        (event["kind"], f"{era_date(dt.date.fromisoformat(event['date']))}　{event['detail']}")
        for event in member.events
    ]
    if member.left_on is not None:
        lines.append(("除籍", f"{era_date(member.left_on)}　{member.left_reason}"))
    return tuple(lines)


def family_register(session: Session, *, resident: Resident, options: Options, keys: KeyRing, mayor: str) -> Document:
    """戸籍全部事項証明書 (every entry of the register) or, with ``household`` off, 戸籍個人事項証明書 (the
    holder's own entry); the register is kept by the municipality of its 本籍, wherever the holder lives."""
    found = _register_of(session, resident)
    entries = found.members if options.household else (found.holder,)
    title = "戸籍全部事項証明書" if options.household else "戸籍個人事項証明書"
    what = "全部" if options.household else "個人"
    return Document(
        kind="koseki",
        title=title,
        blocks=(_register_header(found), *(_member_lines(m) for m in entries)),
        certification=f"これは、戸籍中の記録事項の{what}を証明した書面である。",
        holder_name=f"{found.holder.family_name}　{found.holder.given_name}",
        holder_birth=found.holder.birth_date,
    )


def family_register_annex(
    session: Session, *, resident: Resident, options: Options, keys: KeyRing, mayor: str
) -> Document:
    """戸籍の附票の写し: each current member's addresses while in the register, from the resident registry's
    history (the registry of the member's municipality; a member it does not hold is printed without)."""
    found = _register_of(session, resident)
    blocks: list[Lines] = [_register_header(found)]
    for member in found.current:
        moves = [
            line
            for address, since in koseki.residences(session, member)
            for line in (("住所", address), ("住所を定めた年月日", era_date(since)))
        ]
        unheld = [("住所", "（この市区町村の記録なし）"), ("住所を定めた年月日", "—")]
        blocks.append((("氏名", f"{member.family_name}　{member.given_name}"), *(moves or unheld)))
    return Document(
        kind="koseki_fuhyo",
        title="戸籍の附票の写し",
        blocks=tuple(blocks),
        certification="この写しは、戸籍の附票の原本と相違ないことを証明する。",
        holder_name=f"{found.holder.family_name}　{found.holder.given_name}",
        holder_birth=found.holder.birth_date,
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
    """The document of ``kind`` for ``resident``."""
    if kind == "inkan":
        return inkan(session, resident=resident, options=options, keys=keys, mayor=municipality.mayor, caller=caller)
    builders = {
        "juminhyo": juminhyo,
        "juminhyo_kisai": juminhyo_kisai,
        "tax": tax,
        "koseki": family_register,
        "koseki_fuhyo": family_register_annex,
    }
    return builders[kind](session, resident=resident, options=options, keys=keys, mayor=municipality.mayor)
