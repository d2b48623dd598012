"""Each municipality's convenience-store service as data: kinds offered, fees, mayor, maintenance days.

One YAML file per municipality under ``kiosk/data/municipalities`` (or the directory
``OPENMYNA_KIOSK_MUNICIPALITIES_DIR`` names), validated when the platform starts: a bad file stops the
start with its name and the field at fault.
"""

from __future__ import annotations

import datetime as dt
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from openmyna.numbers import formats

Kind = Literal["juminhyo", "juminhyo_kisai", "inkan", "tax", "koseki", "koseki_fuhyo"]
KINDS: tuple[Kind, ...] = ("juminhyo", "juminhyo_kisai", "inkan", "tax", "koseki", "koseki_fuhyo")
# Kept by the municipality of the family register's 本籍, which may not be the one the person lives in.
FAMILY_REGISTER_KINDS = frozenset({"koseki", "koseki_fuhyo"})
KIND_NAMES: dict[str, tuple[str, str]] = {
    "juminhyo": ("住民票の写し", "Certificate of residence (copy of the resident record)"),
    "juminhyo_kisai": ("住民票記載事項証明書", "Certificate of recorded residence items"),
    "inkan": ("印鑑登録証明書", "Certificate of seal registration"),
    "tax": ("所得・課税証明書", "Certificate of income and taxation"),
    "koseki": ("戸籍全部事項証明書", "Certificate of family register"),
    "koseki_fuhyo": ("戸籍の附票の写し", "Copy of the family register's residence annex"),
}
MAX_COPIES = 10


class MunicipalityError(ValueError):
    """A municipality file is malformed; the message names the file and the field."""


class Municipality(BaseModel):
    """What one municipality offers at convenience stores."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^\d{6}$")
    name: str = Field(min_length=1, max_length=40)
    name_en: str = Field(min_length=1, max_length=80)
    mayor: str = Field(min_length=1, max_length=60, description="as printed under the certification sentence")
    fees: dict[Kind, int] = Field(min_length=1)
    maintenance_days: tuple[dt.date, ...] = ()

    @field_validator("code")
    @classmethod
    def _known_code(cls, value: str) -> str:
        if formats.municipality(value) is None:
            raise ValueError(f"{value} is not a local-government code")
        return value

    @field_validator("fees")
    @classmethod
    def _fees(cls, value: dict[str, int]) -> dict[str, int]:
        for kind, fee in value.items():
            if not 0 <= fee <= 2000:
                raise ValueError(f"the fee of {kind} must be 0–2000 yen")
        return value

    def offers(self, kind: str) -> bool:
        return kind in self.fees


def load_directory(folder: Path | None = None) -> dict[str, Municipality]:
    """Every ``*.yaml`` of the folder (default: the shipped one), validated; keyed by code."""
    source = folder if folder is not None else resources.files("openmyna.kiosk").joinpath("data/municipalities")
    found: dict[str, Municipality] = {}
    for entry in sorted(source.iterdir(), key=lambda e: e.name):  # type: ignore[union-attr]
        if not entry.name.endswith(".yaml"):
            continue
        try:
            data = yaml.safe_load(entry.read_text(encoding="utf-8"))
            municipality = Municipality.model_validate(data)
        except (yaml.YAMLError, ValidationError) as exc:
            raise MunicipalityError(f"{entry.name}: {exc}") from exc
        if entry.name != f"{municipality.code}.yaml":
            raise MunicipalityError(
                f"{entry.name}: a municipality's file is named after its code ({municipality.code})"
            )
        found[municipality.code] = municipality
    return found


@cache
def _cached(folder: str | None) -> dict[str, Municipality]:
    return load_directory(Path(folder) if folder else None)


def municipalities(folder: str | None = None) -> dict[str, Municipality]:
    """The participating municipalities (loaded once per process and folder)."""
    return _cached(folder)
