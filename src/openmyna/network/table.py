"""The exchange table (番号法 別表第二) loaded from YAML and validated at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, ValidationError


class TableError(ValueError):
    """The table file is malformed; the message names the line."""


class Named(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name_ja: str
    name_en: str


class Role(Named):
    org_kinds: tuple[str, ...]


class RowIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    requester: str
    business: str
    provider: str
    items: tuple[str, ...]
    legal_reference: str


@dataclass(frozen=True)
class Row:
    requester: str
    business: str
    provider: str
    items: tuple[str, ...]
    legal_reference: str
    line: int


@dataclass(frozen=True)
class ExchangeTable:
    """Roles, items, businesses and the rows that allow (requester, business, provider, item)."""

    roles: dict[str, Role]
    items: dict[str, Named]
    businesses: dict[str, Named]
    rows: tuple[Row, ...]
    _allowed: frozenset[tuple[str, str, str, str]] = field(default=frozenset(), repr=False)

    def roles_of(self, org_kind: str) -> set[str]:
        return {code for code, role in self.roles.items() if org_kind in role.org_kinds}

    def allows(self, *, requester_role: str, business: str, provider_role: str, item: str) -> bool:
        return (requester_role, business, provider_role, item) in self._allowed

    def find_row(self, *, requester_kind: str, business: str, provider_kind: str, item: str) -> Row | None:
        """The row allowing this exchange between organisations of these kinds, if any."""
        for row in self.rows:
            if (
                row.business == business
                and item in row.items
                and row.requester in self.roles_of(requester_kind)
                and row.provider in self.roles_of(provider_kind)
            ):
                return row
        return None

    def allowed_tuples(self) -> frozenset[tuple[str, str, str, str]]:
        return self._allowed


def _line(node: yaml.Node | None) -> int:
    return node.start_mark.line + 1 if node is not None else 0


def _child(node: yaml.MappingNode, key: str) -> yaml.Node | None:
    return next((value for k, value in node.value if getattr(k, "value", None) == key), None)


def parse_table(text: str, *, source: str = "exchange table") -> ExchangeTable:
    """Parse and validate; every problem is a :class:`TableError` naming ``source`` and the line."""
    try:
        root = yaml.compose(text)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TableError(f"{source}: not valid YAML: {exc}") from exc
    except RecursionError as exc:  # PyYAML composes nested collections recursively
        raise TableError(f"{source}: nested too deeply") from exc
    if not isinstance(root, yaml.MappingNode) or not isinstance(data, dict):
        raise TableError(f"{source}: the table must be a mapping with roles, items, businesses and rows")
    missing = {"roles", "items", "businesses", "rows"} - data.keys()
    if missing:
        raise TableError(f"{source}: missing section(s): {', '.join(sorted(missing))}")

    def section(name: str, model: type[BaseModel]) -> dict[str, Any]:
        node = _child(root, name)
        parsed = {}
        for key, value in (data[name] or {}).items():
            key_node = _child(node, key) if isinstance(node, yaml.MappingNode) else None
            try:
                parsed[key] = model.model_validate(value)
            except ValidationError as exc:
                raise TableError(f"{source}, line {_line(key_node)}: {name}.{key}: {exc.errors()[0]['msg']}") from exc
        return parsed

    roles = section("roles", Role)
    items = section("items", Named)
    businesses = section("businesses", Named)
    row_nodes = _child(root, "rows")
    rows: list[Row] = []
    for index, raw in enumerate(data["rows"] or []):
        node = row_nodes.value[index] if isinstance(row_nodes, yaml.SequenceNode) else None
        where = f"{source}, line {_line(node)}"
        try:
            row = RowIn.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise TableError(f"{where}: {'.'.join(map(str, first['loc']))}: {first['msg']}") from exc
        for label, value, known in (
            ("requester role", row.requester, roles),
            ("business", row.business, businesses),
            ("provider role", row.provider, roles),
        ):
            if value not in known:
                raise TableError(f"{where}: unknown {label} {value!r}")
        for item in row.items:
            if item not in items:
                raise TableError(f"{where}: unknown data item {item!r}")
        if not row.items:
            raise TableError(f"{where}: a row names at least one data item")
        rows.append(Row(row.requester, row.business, row.provider, row.items, row.legal_reference, _line(node)))
    allowed = frozenset((r.requester, r.business, r.provider, item) for r in rows for item in r.items)
    return ExchangeTable(roles, items, businesses, tuple(rows), allowed)


@cache
def load_table(path: str | None = None) -> ExchangeTable:
    """The table from ``path`` or the one shipped with openmyna."""
    if path:
        return parse_table(Path(path).read_text(encoding="utf-8"), source=path)
    text = resources.files("openmyna.network").joinpath("data/exchange_table.yaml").read_text(encoding="utf-8")
    return parse_table(text, source="exchange_table.yaml")


def diff_tables(old: ExchangeTable, new: ExchangeTable) -> tuple[list[tuple[str, ...]], list[tuple[str, ...]]]:
    """Permissions added and removed between two tables, as (requester, business, provider, item)."""
    return sorted(new.allowed_tuples() - old.allowed_tuples()), sorted(old.allowed_tuples() - new.allowed_tuples())
