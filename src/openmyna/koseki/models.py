"""Tables of the family register: one row a register (戸籍), one a member's entry (身分事項 as events)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openmyna.core.db import Base


class FamilyRegister(Base):
    """戸籍: kept by the municipality of its 本籍 (registered domicile), named after its 筆頭者 (head)."""

    __tablename__ = "koseki_registers"

    id: Mapped[int] = mapped_column(primary_key=True)
    honseki_municipality_code: Mapped[str] = mapped_column(String(6), index=True)
    honseki: Mapped[str] = mapped_column(String(300))  # the domicile as written: 東京都千代田区飯田橋三丁目5番
    head_name: Mapped[str] = mapped_column(String(100))  # 筆頭者氏名
    made_on: Mapped[dt.date] = mapped_column(Date)  # 編製日
    made_reason: Mapped[str] = mapped_column(String(40))  # 編製事由: 婚姻, 転籍, 分籍 …

    members: Mapped[list[FamilyRegisterMember]] = relationship(
        back_populates="register", order_by="FamilyRegisterMember.position"
    )


class FamilyRegisterMember(Base):
    """One person's entry in a register; ``left_on`` set once removed from it (除籍: marriage, death …)."""

    __tablename__ = "koseki_members"
    __table_args__ = (
        UniqueConstraint("register_id", "position", name="uq_koseki_members_register_position"),
        Index("ix_koseki_members_resident", "resident_id", "left_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    register_id: Mapped[int] = mapped_column(ForeignKey("koseki_registers.id"))
    position: Mapped[int] = mapped_column(Integer)  # the order of entries in the register
    # The same person's resident record, when this municipality's registry holds one (it may not: the
    # member may live elsewhere, or abroad); the family register itself never holds the My Number.
    resident_id: Mapped[int | None] = mapped_column(ForeignKey("registry_residents.id"), nullable=True)
    family_name: Mapped[str] = mapped_column(String(50))
    given_name: Mapped[str] = mapped_column(String(50))
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(8))
    father: Mapped[str] = mapped_column(String(100), default="")
    mother: Mapped[str] = mapped_column(String(100), default="")
    relation: Mapped[str] = mapped_column(String(20))  # 父母との続柄 (長男, 長女 …) or 夫, 妻 for the spouse
    events: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # 身分事項: {kind, date, detail}
    left_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    left_reason: Mapped[str] = mapped_column(String(40), default="")

    register: Mapped[FamilyRegister] = relationship(back_populates="members")
