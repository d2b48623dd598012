"""The OpenID provider's tables: linked sites (relying parties), residents' consents, codes and access tokens.

Secrets, codes and access tokens are kept only as SHA-256 digests: they are long random values, so a copy of
these tables opens nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from openmyna.core.db import Base


class RelyingParty(Base):
    """A linked site (an organisation of kind ``linked_site``) registered as an OpenID Connect client."""

    __tablename__ = "oidc_relying_parties"

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(String(32), unique=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("orgs_organisations.id"))
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    post_logout_redirect_uris: Mapped[list[str]] = mapped_column(JSON)
    # The sector of pairwise subjects: the redirect URIs' host (OpenID Connect Core §8.1).
    sector: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Consent(Base):
    """What a resident let one linked site read; remembered until the resident revokes it."""

    __tablename__ = "oidc_consents"
    __table_args__ = (UniqueConstraint("resident_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    resident_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(64), index=True)
    client_id: Mapped[str] = mapped_column(String(32))
    scope: Mapped[str] = mapped_column(Text)
    granted_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AuthorizationCode(Base):
    """A code the authorization endpoint gave a linked site: single-use, short-lived, bound to PKCE and nonce."""

    __tablename__ = "oidc_codes"
    __table_args__ = (Index("ix_oidc_codes_client_nonce", "client_id", "nonce"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    client_id: Mapped[str] = mapped_column(String(32))
    resident_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(String(255), nullable=True)
    code_challenge: Mapped[str] = mapped_column(String(128))
    code_challenge_method: Mapped[str] = mapped_column(String(8))
    auth_time: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    amr: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class AccessToken(Base):
    """A bearer token for the userinfo endpoint; revoked with its code's replay or the consent's revocation."""

    __tablename__ = "oidc_access_tokens"
    __table_args__ = (Index("ix_oidc_access_tokens_resident_client", "resident_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[bytes] = mapped_column(LargeBinary(32), unique=True)
    client_id: Mapped[str] = mapped_column(String(32))
    resident_id: Mapped[int] = mapped_column(Integer)
    subject: Mapped[str] = mapped_column(String(64))
    scope: Mapped[str] = mapped_column(Text)
    code_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    issued_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
