"""The procedure catalogue as data: YAML files per municipality, validated at start-up.

Files live under ``eservice/data/procedures/<municipality code>/*.yaml`` (shipped) and, optionally,
under an operator directory (``Settings.procedures_dir``) with the same layout: an operator's procedure
with a shipped code replaces it, a new code adds one; no release needed. Each file holds a list of
procedures under ``procedures:``. Every problem is a :class:`CatalogueError` naming the file and field.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openmyna.network.table import ExchangeTable, load_table

Category = Literal["child_rearing", "pension", "moving", "death"]
Situation = Literal[
    "birth", "pregnancy", "childcare", "annual", "income_change", "move_in", "move_out", "move_within", "death",
    "pension_hardship", "single_parent", "school", "donation", "child_leaves",
]  # fmt: skip
SITUATIONS: tuple[str, ...] = get_args(Situation)
PREFILL_SOURCES = ("name", "kana", "birth_date", "address", "postal_code", "sex", "children", "spouse_name")


class CatalogueError(ValueError):
    """A procedure file is broken; the message names the file and the field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Text(_Strict):
    ja: str = Field(min_length=1)
    en: str = Field(min_length=1)


class Department(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]{1,31}$")
    name_ja: str
    name_en: str


class Eligibility(_Strict):
    """Who may apply, as rules the search and the submit check both apply to the registry's facts."""

    residents_only: bool = True  # a resident of this municipality (move-in: of the new one)
    min_age: int | None = Field(default=None, ge=0, le=130)
    max_age: int | None = Field(default=None, ge=0, le=130)  # inclusive
    sex: Literal["female", "male"] | None = None
    child_under: int | None = Field(default=None, ge=1, le=30)  # the household has a child younger than this
    single_parent: bool = False  # a parent without a spouse in the household


class Fetch(_Strict):
    """An attachment the exchange network provides: the row's provider role and data item."""

    provider: str
    item: str


class Attachment(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")
    name_ja: str
    name_en: str
    required: bool = True
    fetch: Fetch | None = None  # set: never asked of the resident (the municipality fetches it)
    media_types: tuple[str, ...] = ("application/pdf", "image/jpeg", "image/png")
    max_bytes: int = Field(default=700_000, ge=1, le=10_000_000)  # under the body cap, base64 included


class Deadline(_Strict):
    kind: Literal["within_days", "annual", "none"]
    days: int | None = Field(default=None, ge=1, le=366)  # within_days: days after the event
    month: int | None = Field(default=None, ge=1, le=12)  # annual: the yearly due date
    day: int | None = Field(default=None, ge=1, le=31)
    text: Text


class Procedure(_Strict):
    code: str = Field(pattern=r"^[a-z][a-z0-9-]{2,63}$")
    name_ja: str
    name_en: str
    category: Category
    situations: tuple[Situation, ...] = Field(min_length=1)
    department: Department
    who_may_apply: Text
    conditions: tuple[Text, ...] = ()
    eligibility: Eligibility = Eligibility()
    signature_required: bool = True
    deadline: Deadline
    business: str | None = None  # the exchange-table business (事務) the application feeds
    attachments: tuple[Attachment, ...] = ()
    form: dict[str, Any]
    prefill: dict[str, str] = {}
    example: dict[str, Any]
    follows: tuple[str, ...] = ()  # codes of procedures a life event adds after this one (one-stop)

    @property
    def fetchable(self) -> tuple[Attachment, ...]:
        return tuple(a for a in self.attachments if a.fetch is not None)

    @property
    def uploads(self) -> tuple[Attachment, ...]:
        return tuple(a for a in self.attachments if a.fetch is None)


@dataclass(frozen=True)
class Entry:
    """One procedure of one municipality, with the file it came from and its compiled validator."""

    municipality: str
    procedure: Procedure
    source: str
    validator: Any = field(repr=False, compare=False)

    @property
    def key(self) -> tuple[str, str]:
        return self.municipality, self.procedure.code


@dataclass(frozen=True)
class Catalogue:
    """Every procedure by (municipality, code)."""

    entries: dict[tuple[str, str], Entry]

    def get(self, municipality: str, code: str) -> Entry | None:
        return self.entries.get((municipality, code))

    def of(self, municipality: str | None = None) -> list[Entry]:
        found = [e for e in self.entries.values() if municipality is None or e.municipality == municipality]
        return sorted(found, key=lambda e: (e.municipality, e.procedure.code))

    def municipalities(self) -> list[str]:
        return sorted({m for m, _ in self.entries})

    def find(self, code: str) -> list[Entry]:
        return [e for e in self.of() if e.procedure.code == code]


def _where(loc: Iterable[Any]) -> str:
    return ".".join(str(part) for part in loc) or "(top)"


def _check(procedure: Procedure, *, source: str, index: int, table: ExchangeTable | None) -> Any:
    where = f"{source}: procedures.{index} ({procedure.code})"
    try:
        jsonschema.Draft202012Validator.check_schema(procedure.form)
    except jsonschema.SchemaError as exc:
        raise CatalogueError(f"{where}: form.{_where(exc.absolute_path)}: {exc.message}") from exc
    if procedure.form.get("type") != "object" or not isinstance(procedure.form.get("properties"), dict):
        raise CatalogueError(f"{where}: form: a form is an object schema with properties")
    validator = jsonschema.Draft202012Validator(procedure.form, format_checker=jsonschema.FormatChecker())
    error = jsonschema.exceptions.best_match(validator.iter_errors(procedure.example))
    if error is not None:
        raise CatalogueError(f"{where}: example.{_where(error.absolute_path)}: {error.message}")
    for name, source_key in procedure.prefill.items():
        if name not in procedure.form["properties"]:
            raise CatalogueError(f"{where}: prefill.{name}: not a field of the form")
        if source_key not in PREFILL_SOURCES:
            raise CatalogueError(f"{where}: prefill.{name}: unknown registry source {source_key!r}")
    if table is not None:
        if procedure.business is not None and procedure.business not in table.businesses:
            raise CatalogueError(f"{where}: business: {procedure.business!r} is not in the exchange table")
        for i, attachment in enumerate(procedure.attachments):
            if attachment.fetch is None:
                continue
            if procedure.business is None:
                raise CatalogueError(f"{where}: attachments.{i}.fetch: a fetched attachment needs a business")
            allowed = any(
                row.business == procedure.business and row.provider == attachment.fetch.provider
                for row in table.rows
                if attachment.fetch.item in row.items
            )
            if not allowed:
                raise CatalogueError(
                    f"{where}: attachments.{i}.fetch: no exchange-table row lets {procedure.business!r} "
                    f"fetch {attachment.fetch.item!r} from {attachment.fetch.provider!r}"
                )
    return validator


def parse_file(text: str, *, source: str, municipality: str, table: ExchangeTable | None) -> list[Entry]:
    """The procedures of one file, each checked (model, form schema against the metaschema, example, table)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("procedures"), list):
        raise CatalogueError(f"{source}: a procedure file is a mapping with a list under 'procedures'")
    entries = []
    for index, raw in enumerate(data["procedures"]):
        try:
            procedure = Procedure.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            code = raw.get("code", "?") if isinstance(raw, dict) else "?"
            raise CatalogueError(
                f"{source}: procedures.{index} ({code}): {_where(first['loc'])}: {first['msg']}"
            ) from exc
        validator = _check(procedure, source=source, index=index, table=table)
        entries.append(Entry(municipality, procedure, source, validator))
    return entries


def _files(root: Any) -> Iterable[tuple[str, str, str]]:
    """(municipality, source name, text) of every ``<code>/*.yaml`` under ``root`` (a Path or a resource)."""
    for folder in sorted(root.iterdir(), key=lambda f: f.name):
        if not folder.is_dir() or not folder.name.isdigit():
            continue
        for file in sorted(folder.iterdir(), key=lambda f: f.name):
            if file.name.endswith((".yaml", ".yml")):
                yield folder.name, f"{folder.name}/{file.name}", file.read_text(encoding="utf-8")


def load_catalogue(operator_dir: str | Path | None = None, *, table: ExchangeTable | None = None) -> Catalogue:
    """The shipped catalogue, then the operator's files over it (same code replaces, a new code adds)."""
    entries: dict[tuple[str, str], Entry] = {}
    shipped = resources.files("openmyna.eservice").joinpath("data/procedures")
    sources: list[tuple[str, str, str]] = [(m, f"procedures/{s}", t) for m, s, t in _files(shipped)]
    if operator_dir is not None:
        root = Path(operator_dir)
        if not root.is_dir():
            raise CatalogueError(f"{root}: the procedures directory does not exist")
        sources += [(m, str(root / s), t) for m, s, t in _files(root)]
    seen: dict[tuple[str, str], str] = {}
    for municipality, source, text in sources:
        for entry in parse_file(text, source=source, municipality=municipality, table=table):
            earlier = seen.get(entry.key)
            if earlier is not None and earlier.split("/")[:-1] == source.split("/")[:-1]:
                raise CatalogueError(f"{source}: procedure {entry.procedure.code!r} is also defined in {earlier}")
            seen[entry.key] = source
            entries[entry.key] = entry
    for entry in entries.values():
        for code in entry.procedure.follows:
            if (entry.municipality, code) not in entries:
                raise CatalogueError(f"{entry.source}: {entry.procedure.code}: follows: unknown procedure {code!r}")
    return Catalogue(entries)


@cache
def cached_catalogue(operator_dir: str | None = None, table_path: str | None = None) -> Catalogue:
    """One catalogue per (operator directory, exchange table) per process; start-up and the CLI share it."""
    return load_catalogue(operator_dir, table=load_table(table_path))
