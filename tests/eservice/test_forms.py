"""Forms from the schema (hypothesis): generated valid data passes the server's schema check and survives the
round trip through the HTML fields; the HTML constraints the browser checks agree with the schema's."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openmyna.eservice import forms, service
from openmyna.eservice.catalogue import Entry, load_catalogue

CATALOGUE = load_catalogue()
ENTRIES = CATALOGUE.of()
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)


def value_of(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Valid values for the subset of JSON Schema the catalogue uses."""
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(schema.get("minimum", -(10**6)), schema.get("maximum", 10**6))
    if kind == "array":
        return st.lists(
            row_of(schema["items"]), min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 3), 3)
        )
    if schema.get("format") == "date":
        return st.dates(dt.date(1900, 1, 1), dt.date(2100, 12, 31)).map(dt.date.isoformat)
    low, high = schema.get("minLength", 0), schema.get("maxLength", 40)
    if "pattern" in schema:
        return st.from_regex(schema["pattern"], fullmatch=True).filter(
            lambda s: low <= len(s) <= high and s == s.strip()
        )
    # printable text, no surrounding spaces (the form trims), at least one character where required
    return TEXT.map(str.strip).filter(lambda s: max(low, 1) <= len(s) <= high)


def row_of(schema: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    required = set(schema.get("required", ()))
    props = schema["properties"]
    return st.fixed_dictionaries(
        {k: value_of(v) for k, v in props.items() if k in required},
        optional={k: value_of(v) for k, v in props.items() if k not in required},
    )


def posted(entry: Entry, data: dict[str, Any]) -> dict[str, str]:
    """What a browser posts for a form showing ``data``: every field's value, checkboxes only when ticked."""
    body: dict[str, str] = {}
    for field in forms.fields_for(entry, data, [], lang="ja"):
        for f in [f for row in field.rows for f in row] if field.kind == "rows" else [field]:
            if f.kind == "checkbox":
                if f.value:
                    body[f.name] = "true"
            elif f.value is not None:
                body[f.name] = str(f.value)
    return body


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.procedure.code for e in ENTRIES])
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(data=st.data())
def test_valid_data_passes_and_survives_the_html_form(entry: Entry, data: st.DataObject) -> None:
    form = data.draw(row_of(entry.procedure.form))
    assert service.form_errors(entry, form) == []
    back = forms.parse_form(entry, posted(entry, form))
    expected = {k: v for k, v in form.items() if not (v is False and "const" in entry.procedure.form["properties"][k])}
    expected = {k: v for k, v in expected.items() if v != []}
    for name, schema in entry.procedure.form["properties"].items():  # an unticked box is false, not absent
        if schema.get("type") == "boolean" and "const" not in schema:
            expected.setdefault(name, False)
    assert {k: v for k, v in back.items() if v != []} == expected


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.procedure.code for e in ENTRIES])
@settings(max_examples=10, deadline=None)
@given(junk=st.one_of(TEXT, st.integers(), st.none(), st.lists(st.integers(), max_size=2)), data=st.data())
def test_a_broken_field_is_reported_at_that_field(entry: Entry, junk: Any, data: st.DataObject) -> None:
    properties = entry.procedure.form["properties"]
    name = data.draw(st.sampled_from(sorted(properties)))
    broken = dict(entry.procedure.example) | {name: junk}
    errors = service.form_errors(entry, broken)
    if errors:  # the junk may happen to be valid (a text field takes most text)
        assert all(e["field"] == name or e["field"].startswith(name + ".") for e in errors), errors


PATTERNS = sorted(
    {
        s["pattern"]
        for e in ENTRIES
        for s in list(e.procedure.form["properties"].values())
        + [
            p
            for v in e.procedure.form["properties"].values()
            for p in v.get("items", {}).get("properties", {}).values()
        ]
        if "pattern" in s
    }
)


@pytest.mark.parametrize("pattern", PATTERNS)
@settings(max_examples=40, deadline=None)
@given(text=st.one_of(TEXT, st.text("0123456789-ァアイヤマダー　 ", max_size=14)))
def test_the_html_pattern_accepts_exactly_what_the_schema_accepts(pattern: str, text: str) -> None:
    assert bool(re.fullmatch(forms.html_pattern(pattern), text)) == bool(re.search(pattern, text))


def test_html_constraints_come_from_the_schema() -> None:
    entry = CATALOGUE.get("131016", "child-allowance-certification")
    assert entry is not None
    fields = {f.path: f for f in forms.fields_for(entry, {}, [{"field": "kana", "message": "bad"}], lang="ja")}
    assert fields["name"].required and fields["name"].attrs == {"minlength": "1", "maxlength": "60"}
    assert fields["kana"].attrs["pattern"] == "[ァ-ヶー]+([　 ][ァ-ヶー]+)*" and fields["kana"].error == "bad"
    assert fields["birth_date"].kind == "date" and fields["children"].kind == "rows"
    assert not fields["spouse_name"].required
    english = {f.path: f for f in forms.fields_for(entry, {}, [], lang="en")}
    assert english["name"].label == "Claimant's name"
