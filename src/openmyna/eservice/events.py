"""What eservice tells the floor's other packages (subscribed in ``openmyna.app.wiring``; eservice imports none).

The portal turns each into notices in the resident's inbox, in the publisher's transaction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class ResidentsToNotify:
    """One message for many people: a decision (one subject) or a reminder run (many).

    ``sender_org`` is the organisation the notice comes from; ``kind`` one of the portal's notice kinds
    (``decision``, ``deadline_reminder``); a body line that is a site path under ``/eservice/`` is shown
    as a link.
    """

    sender_org: str
    kind: str
    title: str
    body: str
    subjects: tuple[str, ...]
    due_date: dt.date | None = None
