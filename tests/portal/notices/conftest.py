"""Fixtures of the notice tests: SMTP at a local sink, no worker threads (tests run the worker)."""

from __future__ import annotations

import pytest

from openmyna.core.config import Settings
from tests.portal.world import Sink, notice_settings, smtp_sink

__all__ = ["smtp_sink"]


@pytest.fixture
def settings(settings: Settings, smtp_sink: Sink) -> Settings:
    return notice_settings(settings, smtp_sink)
