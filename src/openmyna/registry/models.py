"""Residents, households and the history of every change to a resident's record."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from openmyna.core.db import Base


def _BINARY_ORDER(length: int) -> String:
    """Text compared by code point on both databases, so prefix ranges use the index."""
    return String(length).with_variant(String(length, collation="C"), "postgresql")  # type: ignore[return-value]


RESIDENT = "resident"
MOVED_OUT = "moved_out"
DECEASED = "deceased"


class Household(Base):
    """A household (世帯) at one address; its head is the member whose relationship is ``head``."""

    __tablename__ = "registry_households"

    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_code: Mapped[str] = mapped_column(String(6))
    postal_code: Mapped[str] = mapped_column(String(7))
    address_town: Mapped[str] = mapped_column(String(100))
    address_block: Mapped[str] = mapped_column(String(100))
    address_building: Mapped[str] = mapped_column(String(100), default="")
    formed_on: Mapped[dt.date] = mapped_column(Date)
    dissolved_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)

    members: Mapped[list[Resident]] = relationship(back_populates="household", order_by="Resident.id")


class Resident(Base):
    """One resident record (住民票); a record that left the registry remains as a removed record (除票)."""

    __tablename__ = "registry_residents"
    __table_args__ = (
        Index("ix_registry_residents_full_kana", "full_kana"),
        Index("ix_registry_residents_full_name", "full_name"),
        Index("ix_registry_residents_birth_date", "birth_date"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_code: Mapped[str] = mapped_column(String(11), unique=True)
    my_number_lookup: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)
    my_number_sealed: Mapped[bytes] = mapped_column(LargeBinary)
    my_number_generation: Mapped[int] = mapped_column(Integer, server_default="0")  # keys of lookup and sealed
    pseudonym: Mapped[str] = mapped_column(String(40), index=True)  # numbers.protection.pseudonym: never rotated
    household_id: Mapped[int | None] = mapped_column(ForeignKey("registry_households.id"), nullable=True, index=True)
    relationship_code: Mapped[str] = mapped_column(String(24))
    family_name: Mapped[str] = mapped_column(String(50))
    given_name: Mapped[str] = mapped_column(String(50))
    family_name_kana: Mapped[str] = mapped_column(String(100))
    given_name_kana: Mapped[str] = mapped_column(String(100))
    full_name: Mapped[str] = mapped_column(_BINARY_ORDER(100))
    full_kana: Mapped[str] = mapped_column(_BINARY_ORDER(200))
    former_family_name: Mapped[str] = mapped_column(String(50), default="")
    former_family_name_kana: Mapped[str] = mapped_column(String(100), default="")
    birth_date: Mapped[dt.date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(8))
    municipality_code: Mapped[str] = mapped_column(String(6))
    prefecture: Mapped[str] = mapped_column(String(10))
    city: Mapped[str] = mapped_column(String(50))
    postal_code: Mapped[str] = mapped_column(String(7))
    address_town: Mapped[str] = mapped_column(String(100))
    address_block: Mapped[str] = mapped_column(String(100))
    address_building: Mapped[str] = mapped_column(String(100), default="")
    status: Mapped[str] = mapped_column(String(16), default=RESIDENT)
    became_resident_on: Mapped[dt.date] = mapped_column(Date)
    address_since: Mapped[dt.date] = mapped_column(Date)
    previous_address: Mapped[str] = mapped_column(String(300), default="")
    removed_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    destination_address: Mapped[str] = mapped_column(String(300), default="")
    # ISO 3166-1 alpha-2 code of the country after a move abroad (国外転出); "" for a move within Japan.
    destination_country: Mapped[str] = mapped_column(String(2), default="", server_default="")
    version: Mapped[int] = mapped_column(Integer, default=1)

    household: Mapped[Household | None] = relationship(back_populates="members")
    history: Mapped[list[ResidentVersion]] = relationship(
        back_populates="resident", order_by="ResidentVersion.seq", cascade="all, delete-orphan"
    )

    @property
    def address(self) -> str:
        return f"{self.prefecture}{self.city}{self.address_town}{self.address_block}" + (
            f" {self.address_building}" if self.address_building else ""
        )


class ResidentVersion(Base):
    """The record as it stood from ``valid_from`` until ``valid_to`` (exclusive), and why it changed."""

    __tablename__ = "registry_resident_history"
    __table_args__ = (Index("ix_registry_resident_history_resident_seq", "resident_id", "seq", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("registry_residents.id"))
    seq: Mapped[int] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(24))
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    notified_on: Mapped[dt.date] = mapped_column(Date)
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)

    resident: Mapped[Resident] = relationship(back_populates="history")


class SealRegistration(Base):
    """印鑑登録: a resident's registered seal (its image) and the 印鑑登録証 card that proves it, until abolished."""

    __tablename__ = "registry_seal_registrations"
    __table_args__ = (Index("ix_registry_seal_registrations_resident", "resident_id", "abolished_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(ForeignKey("registry_residents.id"))
    card_number: Mapped[str] = mapped_column(String(16), unique=True)  # 印鑑登録証 number
    seal_image: Mapped[bytes] = mapped_column(LargeBinary)  # PNG of the impression (印影)
    registered_on: Mapped[dt.date] = mapped_column(Date)
    abolished_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    abolished_reason: Mapped[str] = mapped_column(String(64), default="")
