"""The hub's code links, the agencies' local ids, the exchange log and its Merkle tree."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class CodeLink(Base):
    """Hub side: an agency-specific code and the person it stands for (the hub's keyed link, never a number)."""

    __tablename__ = "network_code_links"
    __table_args__ = (UniqueConstraint("agency", "code"), UniqueConstraint("agency", "person_link"))

    id: Mapped[int] = mapped_column(primary_key=True)
    agency: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(40))
    person_link: Mapped[bytes] = mapped_column(LargeBinary(32))
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class LocalId(Base):
    """Agency side (the intermediate server of an agency hosted here): its code for a person → its own record id."""

    __tablename__ = "network_local_ids"
    __table_args__ = (UniqueConstraint("agency", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    agency: Mapped[str] = mapped_column(String(32))
    code: Mapped[str] = mapped_column(String(40))
    local_ref: Mapped[int] = mapped_column(BigInteger)


class Endpoint(Base):
    """Where a provider agency answers when it runs in another process (absent: answered in-process)."""

    __tablename__ = "network_endpoints"

    agency: Mapped[str] = mapped_column(String(32), primary_key=True)
    base_url: Mapped[str] = mapped_column(String(300))


class ExchangeRecord(Base):
    """One side's record of one exchange (情報提供等記録); ``entry`` is the canonical bytes the log hashes."""

    __tablename__ = "network_exchange_records"
    __table_args__ = (
        Index("ix_network_exchange_records_citizen", "citizen", "side", "id"),
        Index("ix_network_exchange_records_exchange", "exchange_id"),
        # Only the records still waiting for the sequencer.
        Index(
            "ix_network_exchange_records_unsequenced",
            "id",
            postgresql_where=text("leaf_index IS NULL"),
            sqlite_where=text("leaf_index IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    exchange_id: Mapped[str] = mapped_column(String(32))
    side: Mapped[str] = mapped_column(String(10))
    agency: Mapped[str] = mapped_column(String(32))
    citizen: Mapped[str] = mapped_column(String(40))
    recorded_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    leaf_index: Mapped[int | None] = mapped_column(BigInteger, nullable=True, unique=True)
    entry: Mapped[str] = mapped_column(Text)
    purged: Mapped[bool] = mapped_column(Boolean, default=False)


class TreeNode(Base):
    """A perfect subtree's hash; ``key`` packs (level, index) as ``index << 6 | level``."""

    __tablename__ = "network_tree_nodes"

    key: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))


class TreeHead(Base):
    """A signed tree head (STH) as published."""

    __tablename__ = "network_tree_heads"

    id: Mapped[int] = mapped_column(primary_key=True)
    tree_size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    timestamp_ms: Mapped[int] = mapped_column(BigInteger)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    # The person map's root at this size, signed with the head (absent on heads signed before the map).
    map_root: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    map_signature: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)


class PersonChain(Base):
    """The head of one person's hash chain over their records (see :mod:`openmyna.network.smt`)."""

    __tablename__ = "network_person_chains"

    citizen: Mapped[str] = mapped_column(String(40), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    head: Mapped[bytes] = mapped_column(LargeBinary(32))


class MapNode(Base):
    """A non-empty node of the person map; ``leaf_key`` is set when the node is one person's leaf."""

    __tablename__ = "network_map_nodes"

    path: Mapped[bytes] = mapped_column(LargeBinary(34), primary_key=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    leaf_key: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    # For a leaf: u64be(count) ‖ chain head, the rest of the leaf's preimage, so that a proof of someone
    # else's absence can show this is a leaf (the client hashes it) and not an inner node passed off as one.
    leaf_value: Mapped[bytes | None] = mapped_column(LargeBinary(40), nullable=True)


class PurgeStatement(Base):
    """What the retention job removed: a signed statement kept after the entries are gone."""

    __tablename__ = "network_purge_statements"

    id: Mapped[int] = mapped_column(primary_key=True)
    purged_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    first_leaf: Mapped[int] = mapped_column(BigInteger)
    last_leaf: Mapped[int] = mapped_column(BigInteger)
    count: Mapped[int] = mapped_column(Integer)
    cutoff: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    statement: Mapped[str] = mapped_column(Text)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
