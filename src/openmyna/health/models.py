"""Tables of health insurance: insurers' facts, insured persons by agency-specific code, records, checks."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, Date, DateTime, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class Insurer(Base):
    """An insurer (保険者): an organisation of kind ``insurer`` with its insurer number and scheme."""

    __tablename__ = "health_insurers"

    id: Mapped[int] = mapped_column(primary_key=True)
    org_code: Mapped[str] = mapped_column(String(32), unique=True)
    insurer_number: Mapped[str] = mapped_column(String(8), unique=True)
    scheme: Mapped[str] = mapped_column(String(16))  # kyokai | kumiai | kokuho | koki


class Qualification(Base):
    """One period in which a person is insured by one insurer (資格), keyed by codes, never the My Number.

    ``person_code`` is the insurer's own agency-specific code for the person; ``clearing_code`` is the
    clearing house's code, by which it answers eligibility for any insurer.
    """

    __tablename__ = "health_qualifications"
    __table_args__ = (Index("ix_health_qualifications_clearing_from", "clearing_code", "valid_from"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_org: Mapped[str] = mapped_column(String(32), index=True)
    person_code: Mapped[str] = mapped_column(String(64))
    clearing_code: Mapped[str] = mapped_column(String(64))
    symbol: Mapped[str] = mapped_column(String(20))
    number: Mapped[str] = mapped_column(String(20))
    branch: Mapped[str] = mapped_column(String(2))
    relation: Mapped[str] = mapped_column(String(16))  # insured | dependant
    burden_percent: Mapped[int] = mapped_column(Integer)
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_until: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Dispensed(Base):
    """A medicine dispensed to a person, as the insurer learns it from claims (shareable with consent)."""

    __tablename__ = "health_dispensed"

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_org: Mapped[str] = mapped_column(String(32))
    clearing_code: Mapped[str] = mapped_column(String(64), index=True)
    dispensed_on: Mapped[dt.date] = mapped_column(Date)
    medicine: Mapped[str] = mapped_column(String(200))
    dose: Mapped[str] = mapped_column(String(100))
    days: Mapped[int] = mapped_column(Integer)
    pharmacy: Mapped[str] = mapped_column(String(200))


class Challenge(Base):
    """A single-use challenge a reception terminal had the card sign; it carries the patient's consent choice."""

    __tablename__ = "health_challenges"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    clinic_org: Mapped[str] = mapped_column(String(32))
    share: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class Check(Base):
    """The clearing house's log of every eligibility check, answered or refused."""

    __tablename__ = "health_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    clinic_org: Mapped[str] = mapped_column(String(32), index=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    outcome: Mapped[str] = mapped_column(String(16))  # insured | not_insured | refused
    reason: Mapped[str] = mapped_column(String(300), default="")
    subject: Mapped[str] = mapped_column(String(64), default="")
    insurer_org: Mapped[str] = mapped_column(String(32), default="")
    shared: Mapped[bool] = mapped_column(Boolean, default=False)
