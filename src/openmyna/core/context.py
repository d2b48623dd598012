"""The objects a process builds once at start-up: settings, engine, sessions and keys."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from openmyna.core.config import Settings
from openmyna.core.crypto import KeyRing, load_master_key
from openmyna.core.db import make_engine, make_read_engine, session_factory


@dataclass(frozen=True)
class AppContext:
    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    keys: KeyRing
    read_session_factory: sessionmaker[Session]  # read-only units of work: they never take the writer


def open_context(settings: Settings | None = None, *, engine: Engine | None = None) -> AppContext:
    """Build the process context from settings (read from the environment when not given)."""
    settings = settings or Settings()
    engine = engine or make_engine(settings.database_url, echo=settings.sql_echo)
    keys = KeyRing(load_master_key(settings))
    return AppContext(settings, engine, session_factory(engine), keys, session_factory(make_read_engine(engine)))
