"""The exchange table file: validation names the line; the CLI and API list and diff it."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from openmyna.cli.main import app as cli
from openmyna.network.table import TableError, diff_tables, load_table, parse_table

SHIPPED = (Path(__file__).parents[2] / "src/openmyna/network/data/exchange_table.yaml").read_text(encoding="utf-8")


def test_the_shipped_table_has_the_seed_examples() -> None:
    table = load_table()
    assert table.allows(
        requester_role="pension_service",
        business="national_pension_premium",
        provider_role="municipality",
        item="local_tax",
    )
    assert table.allows(
        requester_role="health_insurer",
        business="health_insurance_benefit",
        provider_role="pension_service",
        item="pension_benefit",
    )
    assert table.allows(
        requester_role="municipality",
        business="child_support_allowance",
        provider_role="pension_service",
        item="pension_benefit",
    )
    assert not table.allows(
        requester_role="health_insurer",
        business="health_insurance_benefit",
        provider_role="municipality",
        item="local_tax",
    )
    assert {"disability", "public_assistance", "pension_enrolment", "premium_collection"} <= set(table.items)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            (
                "provider: pension_service\n    items: [pension_benefit]",
                "provider: pension\n    items: [pension_benefit]",
            ),
            "line 80: unknown provider role 'pension'",
        ),
        (
            (
                "items: [local_tax]\n    legal_reference: 番号法 別表第二 子ども",
                "items: [tax]\n    legal_reference: 番号法 別表第二 子ども",
            ),
            "unknown data item 'tax'",
        ),
        (("business: child_allowance\n    provider", "business: allowance\n    provider"), "unknown business"),
        (("rows:\n", "rowz:\n"), "missing section(s): rows"),
        (("    org_kinds: [insurer]", "    org_kinds: insurer: x"), "not valid YAML"),
    ],
)
def test_bad_tables_are_refused_naming_the_line(change: tuple[str, str], message: str) -> None:
    before, after = change
    assert before in SHIPPED
    with pytest.raises(TableError, match=message.replace("(", r"\(").replace(")", r"\)")):
        parse_table(SHIPPED.replace(before, after, 1))


def test_diff_and_cli(tmp_path: Path) -> None:
    proposed = SHIPPED.replace("items: [local_tax, resident_record]", "items: [local_tax]", 1)
    added, removed = diff_tables(load_table(), parse_table(proposed))
    assert added == [] and removed == [
        ("pension_service", "national_pension_premium", "municipality", "resident_record")
    ]
    path = tmp_path / "proposed.yaml"
    path.write_text(proposed, encoding="utf-8")
    runner = CliRunner()
    listed = runner.invoke(cli, ["network", "table"])
    assert listed.exit_code == 0 and "national_pensi" in listed.output
    diffed = runner.invoke(cli, ["network", "table", "--diff", str(path)])
    assert diffed.exit_code == 0 and "0 added, 1 removed" in diffed.output
    path.write_text("rows: [", encoding="utf-8")
    assert runner.invoke(cli, ["network", "table", "--diff", str(path)]).exit_code == 2


def test_table_api(client: TestClient) -> None:
    rows = client.get("/api/network/table").json()
    assert len(rows) == len(load_table().rows)
    proposed = SHIPPED.replace("items: [local_tax, resident_record]", "items: [local_tax]", 1)
    diff = client.post("/api/network/table/diff", content=proposed.encode()).json()
    assert diff["removed"] == [
        {
            "requester": "pension_service",
            "business": "national_pension_premium",
            "provider": "municipality",
            "item": "resident_record",
        }
    ]
    bad = client.post("/api/network/table/diff", content=b"rows: [")
    assert bad.status_code == 400 and bad.headers["content-type"] == "application/problem+json"
