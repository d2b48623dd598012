"""Staff fixtures: two back-office accounts of the town, made through the service."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from openmyna.orgs import service
from tests.orgs.web import PASSWORD


@pytest.fixture
def staff(db: Session, town) -> None:
    for username, display_name, role in (("clerk", "窓口", "clerk"), ("viewer", "閲覧", "viewer")):
        service.add_staff(
            db, org_code="131016", username=username, password=PASSWORD, display_name=display_name, role=role
        )
    db.commit()
