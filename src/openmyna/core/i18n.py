"""Japanese-first messages with an English switch, and Japanese era dates."""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from importlib import resources

from japanera import EraDate

LANGUAGES = ("ja", "en")
DEFAULT_LANGUAGE = "ja"


# Packages whose ``data/messages/*.json`` add to the core catalogue (one file per menu or part, so parts
# built side by side never edit the same file). A key defined twice is an error, caught at start-up.
MESSAGE_PACKAGES = ("registry", "card", "portal", "eservice", "health", "carduses", "kiosk")


@cache
def _catalogue() -> dict[str, dict[str, str]]:
    text = resources.files("openmyna.core").joinpath("data/messages.json").read_text(encoding="utf-8")
    catalogue: dict[str, dict[str, str]] = json.loads(text)
    for package in MESSAGE_PACKAGES:
        folder = resources.files(f"openmyna.{package}").joinpath("data/messages")
        for part in sorted((f for f in folder.iterdir() if f.name.endswith(".json")), key=lambda f: f.name):
            entries: dict[str, dict[str, str]] = json.loads(part.read_text(encoding="utf-8"))
            clash = catalogue.keys() & entries.keys()
            if clash:
                raise ValueError(f"{package}/data/messages/{part.name} redefines {sorted(clash)}")
            catalogue.update(entries)
    return catalogue


def translate(key: str, lang: str) -> str:
    """Message ``key`` in ``lang``; falls back to Japanese, then to the key itself."""
    entry = _catalogue().get(key)
    if entry is None:
        return key
    return entry.get(lang) or entry.get(DEFAULT_LANGUAGE) or key


def pick_language(query_value: str | None, cookie_value: str | None) -> str:
    for candidate in (query_value, cookie_value):
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def era_date(value: dt.date) -> str:
    """A date in Japanese era form, e.g. 令和7年4月1日 (令和元年 for the first year)."""
    era_value = EraDate.from_date(value)
    relative = value.year - era_value.era.since.year + 1
    year = "元" if relative == 1 else str(relative)
    return f"{era_value.era.kanji}{year}年{value.month}月{value.day}日"


def format_date(value: dt.date | None, lang: str) -> str:
    if value is None:
        return ""
    return era_date(value) if lang == "ja" else value.isoformat()
