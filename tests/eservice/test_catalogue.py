"""The catalogue: the shipped procedures, the operator's directory, and broken files named at start-up."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from openmyna.app.factory import create_app
from openmyna.core.config import Settings
from openmyna.eservice.catalogue import CatalogueError, load_catalogue
from openmyna.network.table import load_table

TABLE = load_table()
SHIPPED = Path(__file__).resolve().parents[2] / "src/openmyna/eservice/data/procedures/131016/child_allowance.yaml"


def test_the_shipped_catalogue_holds_the_child_rearing_set_and_the_life_events() -> None:
    catalogue = load_catalogue(table=TABLE)
    codes = {e.procedure.code for e in catalogue.of("131016")}
    child_allowance = {c for c in codes if c.startswith("child-allowance-")}
    childcare = {c for c in codes if c.startswith("childcare-")}
    assert len(child_allowance) == 8 and len(childcare) == 4
    assert {"child-support-status-report", "pregnancy-notification", "pension-premium-exemption"} <= codes
    assert {"move-out", "move-in", "move-within", "nhi-enrolment", "nhi-withdrawal", "nhi-address-change"} <= codes
    assert {"bereavement-notice", "nhi-loss-on-death", "funeral-expenses"} <= codes
    fetched = {a.code for e in catalogue.of() for a in e.procedure.fetchable}
    assert {"tax_certificate", "resident_copy", "pension_certificate"} <= fetched
    for entry in catalogue.of():  # every fetchable attachment is allowed by a row of the exchange table
        for attachment in entry.procedure.fetchable:
            assert attachment.fetch is not None
            assert TABLE.allows(
                requester_role="municipality"
                if entry.procedure.business != "national_pension_premium"
                else "pension_service",
                business=entry.procedure.business or "",
                provider_role=attachment.fetch.provider,
                item=attachment.fetch.item,
            ), (entry.procedure.code, attachment.code)


def _write(root: Path, procedures: list[dict], name: str = "x.yaml") -> Path:  # type: ignore[type-arg]
    folder = root / "131016"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(yaml.safe_dump({"procedures": procedures}, allow_unicode=True), encoding="utf-8")
    return folder / name


def _shipped(code: str = "child-allowance-certification") -> dict:  # type: ignore[type-arg]
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    return next(p for p in data["procedures"] if p["code"] == code)


def test_an_operator_file_replaces_a_shipped_procedure_and_adds_one(tmp_path: Path) -> None:
    changed = _shipped() | {"name_ja": "児童手当 認定請求（千代田区版）"}
    added = _shipped() | {"code": "child-allowance-local-extra", "name_ja": "区独自の手当"}
    _write(tmp_path, [changed, added])
    catalogue = load_catalogue(tmp_path, table=TABLE)
    assert catalogue.get("131016", "child-allowance-certification").procedure.name_ja.endswith("（千代田区版）")
    assert catalogue.get("131016", "child-allowance-local-extra") is not None
    assert len(catalogue.of()) == len(load_catalogue(table=TABLE).of()) + 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"signature_required": "often"}, "procedures.0 (child-allowance-certification): signature_required"),
        ({"form": {"type": "object", "properties": {"name": {"type": "strin"}}}}, "form.properties.name.type"),
        ({"form": {"type": "object", "properties": {"name": {"type": "string", "minLength": -1}}}}, "minLength"),
        ({"example": {"name": 3}}, "example"),
        ({"business": "no_such_business"}, "business: 'no_such_business' is not in the exchange table"),
        ({"prefill": {"nope": "name"}}, "prefill.nope: not a field of the form"),
        ({"follows": ["no-such-procedure"]}, "follows: unknown procedure 'no-such-procedure'"),
        ({"surprise": 1}, "surprise: Extra inputs are not permitted"),
    ],
)
def test_a_broken_file_is_named_with_its_field(tmp_path: Path, change: dict, message: str) -> None:  # type: ignore[type-arg]
    path = _write(tmp_path, [_shipped() | change])
    with pytest.raises(CatalogueError) as raised:
        load_catalogue(tmp_path, table=TABLE)
    assert str(path) in str(raised.value) and message in str(raised.value)


def test_a_fetch_the_exchange_table_does_not_allow_is_refused(tmp_path: Path) -> None:
    procedure = _shipped()
    procedure["attachments"] = [
        {
            "code": "pension_certificate",
            "name_ja": "年金",
            "name_en": "Pension",
            "fetch": {"provider": "pension_service", "item": "pension_benefit"},
        }
    ]  # child allowance may not fetch pension data: no such row
    path = _write(tmp_path, [procedure])
    with pytest.raises(CatalogueError, match="no exchange-table row lets 'child_allowance' fetch 'pension_benefit'"):
        load_catalogue(tmp_path, table=TABLE)
    assert path.exists()


def test_not_yaml_and_a_missing_directory(tmp_path: Path) -> None:
    (tmp_path / "131016").mkdir()
    (tmp_path / "131016" / "bad.yaml").write_text("procedures: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match=r"bad\.yaml: not valid YAML"):
        load_catalogue(tmp_path, table=TABLE)
    with pytest.raises(CatalogueError, match="does not exist"):
        load_catalogue(tmp_path / "nowhere", table=TABLE)


def test_a_broken_catalogue_stops_the_application_at_start_up(tmp_path: Path, settings: Settings) -> None:
    _write(tmp_path, [_shipped() | {"deadline": {"kind": "sometime"}}])
    broken = settings.model_copy(update={"procedures_dir": str(tmp_path)})
    with pytest.raises(CatalogueError, match="deadline"):
        create_app(broken)
