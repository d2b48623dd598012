"""Tables of the corporate registry: corporations (current state), past states, activity records, imports, tokens.

A corporation's key is its corporate number as an integer (the check digit comes first and is never 0, so
``str(number)`` gives the 13 digits back); on SQLite that makes it the rowid the search indexes point at.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, Date, DateTime, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base

BigId = BigInteger().with_variant(Integer(), "sqlite")


class _NtaColumns:
    """The 30 NTA columns (DOMAIN.md §3) shared by the current state and its history."""

    sequence_number: Mapped[int] = mapped_column(Integer)
    process: Mapped[str] = mapped_column(String(2))
    correct: Mapped[str] = mapped_column(String(1))
    update_date: Mapped[dt.date] = mapped_column(Date)
    change_date: Mapped[dt.date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(150))
    name_image_id: Mapped[str | None] = mapped_column(String(8))
    kind: Mapped[str] = mapped_column(String(3))
    prefecture_name: Mapped[str | None] = mapped_column(String(10))
    city_name: Mapped[str | None] = mapped_column(String(20))
    street_number: Mapped[str | None] = mapped_column(String(300))
    address_image_id: Mapped[str | None] = mapped_column(String(8))
    prefecture_code: Mapped[str | None] = mapped_column(String(2))
    city_code: Mapped[str | None] = mapped_column(String(3))
    post_code: Mapped[str | None] = mapped_column(String(7))
    address_outside: Mapped[str | None] = mapped_column(String(300))
    address_outside_image_id: Mapped[str | None] = mapped_column(String(8))
    close_date: Mapped[dt.date | None] = mapped_column(Date)
    close_cause: Mapped[str | None] = mapped_column(String(2))
    successor_corporate_number: Mapped[str | None] = mapped_column(String(13))
    change_cause: Mapped[str | None] = mapped_column(String(500))
    assignment_date: Mapped[dt.date] = mapped_column(Date)
    latest: Mapped[str] = mapped_column(String(1))
    en_name: Mapped[str | None] = mapped_column(String(300))
    en_prefecture_name: Mapped[str | None] = mapped_column(String(9))
    en_city_name: Mapped[str | None] = mapped_column(String(600))
    en_address_outside: Mapped[str | None] = mapped_column(String(600))
    furigana: Mapped[str | None] = mapped_column(String(500))
    hihyoji: Mapped[str] = mapped_column(String(1))
    # A stable 64-bit digest of columns 2–30: the same record imported twice is recognised.
    digest: Mapped[int] = mapped_column(BigInteger)


class Corporation(_NtaColumns, Base):
    """The newest known state of a corporation (法人基本３情報 and the rest of the NTA record)."""

    __tablename__ = "corporate_corporations"

    number: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    # Normalised name, furigana and English name: what partial-match search runs over.
    search_text: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index("ix_corporate_corporations_update_date", "update_date"),
        Index("ix_corporate_corporations_prefecture_city", "prefecture_code", "city_code"),
    )

    @property
    def corporate_number(self) -> str:
        return str(self.number)


class CorporationVersion(_NtaColumns, Base):
    """A past (or older, ``latest=0``) state of a corporation, kept so changes stay visible."""

    __tablename__ = "corporate_versions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (
        UniqueConstraint("number", "digest", name="uq_corporate_versions_number_digest"),
        Index("ix_corporate_versions_update_date", "update_date"),
    )


class Activity(Base):
    """One activity record from a ministry or municipality (補助金・調達・届出認定・表彰・行政処分)."""

    __tablename__ = "corporate_activities"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, index=True)
    kind: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(500))
    amount: Mapped[int | None] = mapped_column(BigInteger)
    date: Mapped[dt.date | None] = mapped_column(Date)
    government_departments: Mapped[str] = mapped_column(String(200))
    target: Mapped[str | None] = mapped_column(String(500))
    category: Mapped[str | None] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(String(1000))
    # False while no corporation with this number is known: kept aside, linked when it appears.
    linked: Mapped[bool] = mapped_column(Boolean, default=True)
    source: Mapped[str] = mapped_column(String(300))
    digest: Mapped[int] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_corporate_activities_kind_date", "kind", "date"),)


class ImportedFile(Base):
    """A file imported completely, by content digest: importing it again changes nothing."""

    __tablename__ = "corporate_imported_files"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(300))
    rows: Mapped[int] = mapped_column(Integer)
    skipped: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ApiToken(Base):
    """An API token of a gBizINFO / NTA Web-API user; only its SHA-256 is stored."""

    __tablename__ = "corporate_api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
