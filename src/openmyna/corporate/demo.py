"""The demo slice of corporations that ``openmyna seed`` loads, so the pages and APIs have something to show."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from openmyna.corporate import activity, importer, synth
from openmyna.corporate.models import Corporation
from openmyna.corporate.nta import make_record, parse_fields

DEMO_ROWS = 2000


def seed_corporations(connection: Connection, *, rows: int = DEMO_ROWS, seed: int = 42) -> int:
    """Load ``rows`` synthetic corporations (with history and activity records) once; return how many exist."""
    existing = connection.execute(select(func.count()).select_from(Corporation)).scalar_one()
    if existing:
        return existing
    records = [make_record(i, parse_fields(r)) for i, r in enumerate(synth._rows(rows, seed), start=1)]
    importer.import_records(connection, records)
    changes = [make_record(i, parse_fields(r)) for i, r in enumerate(synth._diff_rows(rows, seed), start=1)]
    importer.import_records(connection, changes)
    inputs = [
        activity.validate(**dict(zip(activity.CSV_HEADER, r, strict=True))) for r in synth._activity_rows(rows, seed)
    ]
    activity.store(connection, inputs, source="demo")
    return rows
