"""NTA and activity imports on SQLite and PostgreSQL: full, diff, history, re-import, interruption, bad input."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from openmyna.corporate import activity, importer, nta_columns, service, writer
from openmyna.corporate.importer import ImportReport
from openmyna.corporate.models import Activity, Corporation, CorporationVersion, ImportedFile
from openmyna.corporate.nta import NotNtaCsv
from openmyna.corporate.search import Filters
from tests.corporate.factories import number, row, write

A, B, C, D = number(101), number(202), number(303), number(404)


def count(connection: Connection, model: type) -> int:
    return connection.execute(select(func.count()).select_from(model)).scalar_one()


def names(connection: Connection, query: str) -> list[str]:
    return [r["name"] for r in service.search(connection, Filters(name=query), limit=50)]


@pytest.fixture
def full(tmp_path: Path) -> Path:
    return write(
        tmp_path / "full.csv",
        [
            row(A, sequence=1, name="株式会社トヨ商事", furigana="カブシキガイシャトヨショウジ"),
            row(B, sequence=2, name="サクラ工業有限会社", kind="302", furigana="サクラコウギョウユウゲンガイシャ",
                en_name="Sakura Industries Ltd."),
            row(C, sequence=3, name="富士建設株式会社", furigana="フジケンセツカブシキガイシャ"),
        ],
    )  # fmt: skip


def test_a_full_file_becomes_the_registry_and_is_searchable(connection: Connection, full: Path) -> None:
    report = importer.import_nta_file(connection, full)
    assert (report.rows, report.inserted, report.bad) == (3, 3, 0)
    assert count(connection, Corporation) == 3
    stored = service.corporation(connection, int(A))
    assert stored["name"] == "株式会社トヨ商事" and str(stored["update_date"]) == "2024-04-01"
    assert names(connection, "トヨ") == ["株式会社トヨ商事"]
    assert names(connection, "ｶﾌﾞｼｷｶﾞｲｼｬ") == names(connection, "かぶしきがいしゃ")
    assert set(names(connection, "ｶﾌﾞｼｷｶﾞｲｼｬ")) == {"株式会社トヨ商事", "富士建設株式会社"}
    assert names(connection, "sakura industries") == ["サクラ工業有限会社"]
    assert names(connection, "業") == ["サクラ工業有限会社"]
    assert names(connection, "建設株式") == ["富士建設株式会社"]


def test_a_load_into_an_empty_registry_leaves_every_page_visible(connection: Connection, full: Path) -> None:
    """COPY FREEZE: the first full file needs no VACUUM pass over the table before searches read it cheaply."""
    if connection.dialect.name != "postgresql":
        pytest.skip("COPY FREEZE is PostgreSQL's")
    importer.import_nta_file(connection, full)
    pages, visible = connection.exec_driver_sql(
        "SELECT relpages, relallvisible FROM pg_class WHERE relname = 'corporate_corporations'"
    ).one()
    assert pages > 0 and visible == pages
    target = connection.exec_driver_sql(
        "SELECT attstattarget FROM pg_attribute WHERE attrelid = 'corporate_corporations'::regclass "
        "AND attname = 'search_text'"
    ).scalar_one()
    assert target == 1000  # migration 0301: a histogram fine enough to plan LIKE terms


def test_a_staged_load_swaps_in_the_same_table_and_drops_what_an_interrupted_one_left(
    connection: Connection, full: Path
) -> None:
    """PostgreSQL loads an empty registry in a staging schema (indexes built by two connections at once) and
    swaps the table in inside the import's transaction; a staging schema left by a crash is dropped."""
    if connection.dialect.name != "postgresql":
        pytest.skip("the staged load is PostgreSQL's")
    leftover = f"{writer.STAGING_PREFIX}crashed"
    with connection.engine.begin() as other:  # what a load killed after its staging commit leaves
        other.exec_driver_sql(f"CREATE SCHEMA {leftover}")
        other.exec_driver_sql(f"CREATE TABLE {leftover}.corporate_corporations (number bigint)")
    try:
        before = _index_definitions(connection)
        importer.import_nta_file(connection, full)
        assert _index_definitions(connection) == before
        assert (
            connection.exec_driver_sql(
                "SELECT count(*) FROM pg_namespace WHERE starts_with(nspname, %s)", (writer.STAGING_PREFIX,)
            ).scalar_one()
            == 0
        )
        assert (
            connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stats WHERE schemaname = 'public' AND tablename = 'corporate_corporations' "
                "AND attname = 'search_text'"
            ).scalar_one()
            == 1
        ), "the loaded table has its statistics (ANALYZE)"
        assert count(connection, Corporation) == 3 and names(connection, "建設株式") == ["富士建設株式会社"]
    finally:
        connection.rollback()
        with connection.engine.begin() as other:
            other.exec_driver_sql(f"DROP SCHEMA IF EXISTS {leftover} CASCADE")


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "row-by-row"])
def test_clean_blocks_sent_whole_give_the_same_registry_as_records(
    connection: Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bulk: bool
) -> None:
    """A large file's clean blocks of new corporations are written as the parsing process sent them (COPY text
    on PostgreSQL, stored rows on SQLite); blocks with a repeated or known number, or a bad row, go record by
    record. Same registry, same search indexes."""
    postgresql = connection.dialect.name == "postgresql"
    monkeypatch.setattr(nta_columns, "_BLOCK_BYTES", 1500)
    lines = [row(number(5000 + i), sequence=i + 1, name=f"株式会社ﾊﾞｯｸ\\スラッシュ{i}＼",
                 furigana="バックスラッシュ" if i % 2 else "", en_name="Back\\slash Co." if i % 3 else "")
             for i in range(60)]  # fmt: skip
    lines[40] = row(number(5003), sequence=41, update="2025-01-01", name="株式会社新名称")  # a later state of one
    lines[50] = lines[50][:-1]  # a bad row
    path = write(tmp_path / "blocks.csv", lines)

    def load(
        in_process: bool,
    ) -> tuple[ImportReport, list[tuple[object, ...]], list[tuple[object, ...]], list[list[str]]]:
        monkeypatch.setattr(nta_columns, "PROCESS_MIN_BYTES", 0 if in_process else 1 << 40)
        savepoint = connection.begin_nested()
        report = importer.import_nta_file(connection, path, bulk=bulk)
        current = connection.exec_driver_sql(
            "SELECT *, bigrams::text FROM corporate_corporations ORDER BY number"
            if postgresql
            else "SELECT * FROM corporate_corporations ORDER BY number"
        ).all()
        found = [sorted(names(connection, term)) for term in ("ッシュ1", "ュ2", "ﾊﾞｯｸ\\スラッシュ3", "slash", "新名")]
        history = connection.exec_driver_sql(
            "SELECT number, digest, name FROM corporate_versions ORDER BY number, digest"
        ).all()
        savepoint.rollback()
        return report, [tuple(r) for r in current], [tuple(r) for r in history], found

    by_copy, by_records = load(True), load(False)
    assert by_copy == by_records
    report, current, history, found = by_copy
    assert (report.rows, report.inserted, report.replaced, report.bad) == (59, 58, 1, 1)
    assert len(current) == 58 and len(history) == 1
    assert [len(f) for f in found] == [11, 11, 10, 38, 1]  # 30–39 (3 renamed)


def _index_definitions(connection: Connection) -> set[str]:
    return set(connection.exec_driver_sql(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'corporate_corporations' AND schemaname = 'public'"
    ).scalars())  # fmt: skip


def test_importing_a_file_again_changes_nothing(connection: Connection, full: Path, tmp_path: Path) -> None:
    importer.import_nta_file(connection, full)
    again = importer.import_nta_file(connection, full)
    assert again.already_imported and again.rows == 0
    # The same records in another file (other sequence numbers) are recognised too.
    text = full.read_text().replace("\n1,", "\n9,")
    other = tmp_path / "copy.csv"
    other.write_text("7," + text.split(",", 1)[1])
    report = importer.import_nta_file(connection, other)
    assert (report.unchanged, report.inserted, report.replaced) == (3, 0, 0)
    assert count(connection, Corporation) == 3 and count(connection, CorporationVersion) == 0
    assert count(connection, ImportedFile) == 2


def test_a_diff_keeps_the_past_state_visible(connection: Connection, full: Path, tmp_path: Path) -> None:
    importer.import_nta_file(connection, full)
    diff = write(
        tmp_path / "diff.csv",
        [
            row(A, sequence=1, process="11", update="2024-05-01", name="株式会社ミライ商事", furigana="ミライショウジ"),
            row(A, sequence=2, process="12", update="2024-05-01", change="2024-05-02", name="株式会社ミライ商事",
                furigana="ミライショウジ", prefecture=("大阪府", "27"), city=("大阪市北区", "127"),
                post_code="5300001"),
            row(B, sequence=3, process="71", update="2024-05-01", close_date="2024-04-30", close_cause="11",
                successor=C, name="サクラ工業有限会社", kind="302", furigana="サクラコウギョウ"),
            row(D, sequence=4, update="2024-05-01", name="合同会社エコー", kind="305", furigana="エコー"),
        ],
    )  # fmt: skip
    report = importer.import_nta_file(connection, diff)
    assert (report.inserted, report.replaced) == (1, 3)
    now = service.corporation(connection, int(A))
    assert (now["name"], now["prefecture_code"], now["process"]) == ("株式会社ミライ商事", "27", "12")
    past = service.history(connection, int(A))
    assert [(p["process"], p["name"], p["prefecture_code"]) for p in past] == [
        ("01", "株式会社トヨ商事", "13"),
        ("11", "株式会社ミライ商事", "13"),
    ]
    merged = service.corporation(connection, int(B))
    assert (merged["process"], merged["close_cause"], merged["successor_corporate_number"]) == ("71", "11", C)
    assert names(connection, "トヨ") == []  # the old name left the index with the old state
    assert names(connection, "ミライ") == ["株式会社ミライ商事"]
    closed = service.search(connection, Filters(open_only=False), limit=10)
    assert [str(r["number"]) for r in closed] == [B]
    # An older record arriving later goes to the history, not over the newer state.
    late = write(tmp_path / "late.csv", [row(C, update="2023-01-01", latest="0", name="旧富士建設株式会社")])
    assert importer.import_nta_file(connection, late).to_history == 1
    assert service.corporation(connection, int(C))["name"] == "富士建設株式会社"


def test_an_interrupted_import_leaves_nothing_and_can_be_run_again(connection: Connection, tmp_path: Path) -> None:
    path = write(tmp_path / "big.csv", [row(number(1000 + i), sequence=i + 1) for i in range(50)])

    def interrupt(_rows: int) -> None:
        raise KeyboardInterrupt

    savepoint = connection.begin_nested()  # the CLI's per-file transaction
    with pytest.raises(KeyboardInterrupt):
        importer.import_nta_file(connection, path, batch_size=10, progress=interrupt)
    savepoint.rollback()
    assert count(connection, Corporation) == 0 and count(connection, ImportedFile) == 0
    assert names(connection, "トヨ") == []
    report = importer.import_nta_file(connection, path, batch_size=10)
    assert report.inserted == 50 and count(connection, Corporation) == 50
    assert len(names(connection, "トヨ")) == 50


def test_bad_rows_are_reported_and_skipped_and_a_foreign_file_is_refused(
    connection: Connection, tmp_path: Path
) -> None:
    path = write(tmp_path / "bad.csv", [row(A), row(number(5))[:20], row("1" * 13), row(C, update="2024-02-30")])
    seen: list[str] = []
    report = importer.import_nta_file(connection, path, on_bad_row=lambda bad: seen.append(str(bad)))
    assert report.inserted == 1 and report.bad == 3
    assert [b.line for b in report.bad_rows] == [2, 3, 4]
    assert seen[0].startswith("bad.csv:2: expected 30 columns")
    other = tmp_path / "people.csv"
    other.write_text("name,age\n山田,30\n")
    with pytest.raises(NotNtaCsv):
        importer.import_nta_file(connection, other)
    assert count(connection, Corporation) == 1 and count(connection, ImportedFile) == 1


def test_activity_records_for_unknown_numbers_are_kept_aside_and_linked_later(
    connection: Connection, full: Path, tmp_path: Path
) -> None:
    importer.import_nta_file(connection, full)
    path = tmp_path / "activity.csv"
    path.write_text(
        ",".join(activity.CSV_HEADER) + "\n"
        f"{A},subsidy,IT導入補助金,1500000,2024-06-01,経済産業省,,IT導入,\n"
        f"{A},commendation,健康経営優良法人,,2024-03-01,経済産業省,株式会社トヨ商事,健康経営,\n"
        f"{D},procurement,庁舎清掃業務委託,3200000,2024-07-01,国土交通省,,,\n"
        f"{A},grant,unknown kind,,2024-01-01,x,,,\n"
        f"{A},subsidy,bad amount,12yen,2024-01-01,x,,,\n"
        "1234567890123,subsidy,bad number,1,2024-01-01,x,,,\n",
        encoding="utf-8",
    )
    report = activity.import_activity_file(connection, path)
    assert (report.rows, report.inserted, report.unlinked, report.bad) == (3, 3, 1, 3)
    assert [b.line for b in report.bad_rows] == [5, 6, 7]
    assert [a["kind"] for a in service.activities(connection, int(A))] == ["subsidy", "commendation"]
    assert service.activities(connection, int(D)) == []
    assert activity.import_activity_file(connection, path).already_imported
    importer.import_nta_file(
        connection, write(tmp_path / "d.csv", [row(D, name="合同会社エコー", kind="305", furigana="エコー")])
    )
    assert [a["title"] for a in service.activities(connection, int(D))] == ["庁舎清掃業務委託"]
    found = service.search(connection, Filters(amount_range={"subsidy": (1_000_000, 2_000_000)}), limit=5)
    assert [str(r["number"]) for r in found] == [A] and found[0]["number_of_activity"] == 2
    assert count(connection, Activity) == 3
    bad = tmp_path / "nohead.csv"
    bad.write_text(f"{A},subsidy,x,1,2024-01-01,x,,,\n")
    with pytest.raises(activity.NotActivityCsv):
        activity.import_activity_file(connection, bad)


@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "row-by-row"])
def test_bulk_and_row_by_row_loads_give_the_same_registry_and_search(
    connection: Connection, full: Path, tmp_path: Path, bulk: bool
) -> None:
    """A bulk load over a registry that already holds corporations re-indexes them too; both ways agree."""
    importer.import_nta_file(connection, full)
    more = write(
        tmp_path / "more.csv",
        [
            row(D, sequence=1, name="トヨタ精機株式会社", furigana="トヨタセイキカブシキガイシャ"),
            row(C, sequence=2, name="富士建設株式会社", furigana="フジケンセツカブシキガイシャ", update="2025-01-10",
                change="2025-01-10", street="丸の内2丁目1番1号"),
        ],
    )  # fmt: skip
    report = importer.import_nta_file(connection, more, bulk=bulk)
    assert (report.inserted, report.replaced) == (1, 1)
    assert count(connection, Corporation) == 4 and count(connection, CorporationVersion) == 1
    assert sorted(names(connection, "トヨ")) == ["トヨタ精機株式会社", "株式会社トヨ商事"]
    assert names(connection, "富士") == ["富士建設株式会社"]
    assert names(connection, "精") == ["トヨタ精機株式会社"]
    assert set(names(connection, "カブシキガイシャ")) == {"株式会社トヨ商事", "富士建設株式会社", "トヨタ精機株式会社"}
    assert names(connection, "sakura") == ["サクラ工業有限会社"]
