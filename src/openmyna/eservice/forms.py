"""HTML forms from a procedure's JSON Schema, and the posted fields back into JSON data.

The browser's checks are HTML constraints generated from the same schema the server validates with
(``required``, ``minlength``/``maxlength``, ``pattern``, ``min``/``max``, ``type=date``, ``select`` for an
``enum``); ``static/form.js`` only shows the browser's messages next to their fields. Field names are
``<procedure code>.<property>`` (``.<row>.<property>`` inside an array), so one page can hold the forms of
several procedures (a life event's one-stop).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from openmyna.eservice.catalogue import Entry


@dataclass
class Field:
    name: str  # the HTML name (and, with dots made dashes, the id)
    path: str  # the JSON path the server's errors use (``children.0.name``)
    label: str
    kind: str  # text | date | number | select | checkbox | textarea | rows
    required: bool = False
    attrs: dict[str, str] = field(default_factory=dict)
    options: list[tuple[str, str]] = field(default_factory=list)
    value: Any = None
    error: str = ""
    rows: list[list[Field]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return "f-" + re.sub(r"[^A-Za-z0-9_-]", "-", self.name)


def _label(schema: dict[str, Any], name: str, lang: str) -> str:
    return str(schema.get("x-title-en") if lang == "en" and schema.get("x-title-en") else schema.get("title", name))


def html_pattern(pattern: str) -> str:
    """A JSON Schema pattern (unanchored search) as an HTML ``pattern`` (always anchored to the whole value)."""
    if pattern.startswith("^") and pattern.endswith("$") and not pattern.endswith("\\$"):
        return pattern[1:-1]
    return f"[\\s\\S]*(?:{pattern})[\\s\\S]*"


def _field(name: str, path: str, schema: dict[str, Any], *, required: bool, value: Any, lang: str) -> Field:
    label = _label(schema, path.rsplit(".", 1)[-1], lang)
    kind, attrs, options = "text", {}, []
    kind_of = schema.get("type")
    if "enum" in schema:
        kind = "select"
        names = schema.get("x-enum-en" if lang == "en" else "x-enum-ja") or schema["enum"]
        options = [(str(v), str(n)) for v, n in zip(schema["enum"], names, strict=False)]
    elif kind_of == "boolean":
        kind = "checkbox"
        required = required and schema.get("const") is True
    elif kind_of in ("integer", "number"):
        kind = "number"
        attrs["step"] = "1" if kind_of == "integer" else "any"
        attrs["inputmode"] = "numeric"
        for key, attr in (("minimum", "min"), ("maximum", "max")):
            if key in schema:
                attrs[attr] = str(schema[key])
    elif schema.get("format") == "date":
        kind = "date"
    else:
        if schema.get("maxLength", 0) > 200:
            kind = "textarea"
        for key, attr in (("minLength", "minlength"), ("maxLength", "maxlength")):
            if key in schema:
                attrs[attr] = str(schema[key])
        if "pattern" in schema:
            attrs["pattern"] = html_pattern(schema["pattern"])
    return Field(name, path, label, kind, required, attrs, options, value)


def fields_for(entry: Entry, values: Mapping[str, Any], errors: list[dict[str, str]], *, lang: str) -> list[Field]:
    """The form's fields with their current values and the server's errors attached by path."""
    form = entry.procedure.form
    code = entry.procedure.code
    required = set(form.get("required", ()))
    by_path: dict[str, str] = {}
    for error in errors:
        by_path.setdefault(error["field"], error["message"])
    fields = []
    for prop, schema in form["properties"].items():
        if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
            fields.append(_rows(code, prop, schema, values.get(prop), prop in required, by_path, lang))
            continue
        f = _field(f"{code}.{prop}", prop, schema, required=prop in required, value=values.get(prop), lang=lang)
        f.error = by_path.get(prop, "")
        fields.append(f)
    return fields


def _rows(
    code: str, prop: str, schema: dict[str, Any], value: Any, required: bool, errors: dict[str, str], lang: str
) -> Field:
    items = schema["items"]
    current = value if isinstance(value, list) else []
    minimum = schema.get("minItems", 1 if required else 0)
    count = min(max(len(current) + 1, minimum, 1), schema.get("maxItems", 10))
    rows = []
    for index in range(count):
        row_value = current[index] if index < len(current) and isinstance(current[index], dict) else {}
        row_required = set(items.get("required", ())) if index < minimum else set()
        row = []
        for name, sub in items.get("properties", {}).items():
            f = _field(
                f"{code}.{prop}.{index}.{name}", f"{prop}.{index}.{name}", sub,
                required=name in row_required, value=row_value.get(name), lang=lang,
            )  # fmt: skip
            f.error = errors.get(f"{prop}.{index}.{name}", "")
            row.append(f)
        rows.append(row)
    group = Field(f"{code}.{prop}", prop, _label(schema, prop, lang), "rows", required, rows=rows)
    group.error = errors.get(prop, "")
    return group


def _coerce(schema: dict[str, Any], raw: str | None) -> Any:
    kind = schema.get("type")
    if kind == "boolean":
        return raw is not None
    if raw is None or raw == "":
        return None
    if kind == "integer":
        try:
            return int(raw)
        except ValueError:
            return raw  # the schema reports it
    if kind == "number":
        try:
            return float(raw)
        except ValueError:
            return raw
    return raw.strip()


def parse_form(entry: Entry, form: Mapping[str, Any]) -> dict[str, Any]:
    """The posted fields of ``entry``'s form as JSON data: empty text fields left out, empty rows dropped."""
    code = entry.procedure.code
    data: dict[str, Any] = {}
    for prop, schema in entry.procedure.form["properties"].items():
        if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
            rows = []
            for index in range(schema.get("maxItems", 10)):
                row = {}
                for name, sub in schema["items"].get("properties", {}).items():
                    raw = form.get(f"{code}.{prop}.{index}.{name}")
                    value = _coerce(sub, raw if isinstance(raw, str) else None)
                    if value not in (None, False):
                        row[name] = value
                if row:
                    rows.append(row)
            if rows or prop in entry.procedure.form.get("required", ()):
                data[prop] = rows
            continue
        raw = form.get(f"{code}.{prop}")
        value = _coerce(schema, raw if isinstance(raw, str) else None)
        if value is not None and not (schema.get("type") == "boolean" and value is False and "const" in schema):
            data[prop] = value
    return data
