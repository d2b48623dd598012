"""``openmyna corporate synth|import|token`` end to end on a fresh SQLite database."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select
from stdnum.jp import cn
from typer.testing import CliRunner

from openmyna.cli.main import app
from openmyna.core.db import make_engine
from openmyna.corporate.codes import KIND, PREFECTURES
from openmyna.corporate.models import Activity, ApiToken, Corporation, CorporationVersion, ImportedFile
from openmyna.corporate.synth import write_dataset


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("OPENMYNA_DATABASE_URL", url)
    monkeypatch.setenv("OPENMYNA_VAR_DIR", str(tmp_path / "var"))
    return url


def test_synth_then_import_then_import_again(env: str, tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "synth"
    result = runner.invoke(app, ["corporate", "synth", "--rows", "3000", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with (out / "nta_full.csv").open(encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert len(rows) == 3000 and all(len(r) == 30 and cn.is_valid(r[1]) for r in rows)
    assert len({r[1] for r in rows}) == 3000
    assert {r[8] for r in rows} <= set(KIND) and {r[13] for r in rows} <= set(PREFECTURES)
    closed = [r for r in rows if r[2] in ("21", "71")]
    assert 0.05 < len(closed) / len(rows) < 0.2 and all(r[18] and r[19] for r in closed)
    diff = next(out.glob("nta_diff_*.csv"))
    files = [str(out / "nta_full.csv"), str(diff), str(out / "activity.csv")]
    result = runner.invoke(app, ["corporate", "import", *files])
    assert result.exit_code == 0, result.output
    assert "3,000 new" in result.output and "kept aside" in result.output
    engine = make_engine(env)
    with engine.connect() as connection:
        corporations = connection.scalar(select(func.count()).select_from(Corporation))
        versions = connection.scalar(select(func.count()).select_from(CorporationVersion))
        activities = connection.scalar(select(func.count()).select_from(Activity))
    assert corporations == 3000 and versions > 0 and activities > 0
    again = runner.invoke(app, ["corporate", "import", *files])
    assert again.exit_code == 0 and again.output.count("already imported") == 3
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(CorporationVersion)) == versions
    engine.dispose()


def test_a_foreign_file_is_refused_with_exit_code_1(env: str, tmp_path: Path) -> None:
    other = tmp_path / "other.csv"
    other.write_text("hello,world\n")
    result = CliRunner().invoke(app, ["corporate", "import", str(other)])
    assert result.exit_code == 1 and "refused" in result.output


def test_token_prints_only_the_token_and_stores_only_its_hash(env: str) -> None:
    result = CliRunner().invoke(app, ["corporate", "token", "研究者A"])
    assert result.exit_code == 0
    token = result.stdout.strip()
    assert len(token) >= 40 and "\n" not in token and " " not in token
    engine = make_engine(env)
    with engine.connect() as connection:
        stored = connection.execute(select(ApiToken.name, ApiToken.token_sha256)).one()
    engine.dispose()
    assert stored.name == "研究者A" and token not in stored.token_sha256


def _read_position(pid: int, path: Path) -> int | None:
    """Where process ``pid`` is reading ``path``, from /proc (None while it has not opened it)."""
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        try:
            if os.readlink(fd) == str(path):
                text = Path(f"/proc/{pid}/fdinfo/{fd.name}").read_text()
                return int(text.split("pos:")[1].split()[0])
        except OSError:
            continue
    return None


def test_ctrl_c_during_an_import_leaves_nothing_and_the_file_imports_again(env: str, tmp_path: Path) -> None:
    """A real interruption of the real command: SIGINT while it is half-way through reading the file.

    The line count and the SHA-256 read the file in a few milliseconds; the import reads it row by row, so
    a read position in the middle seen on two polls 50 ms apart is the import itself.
    """
    data = write_dataset(tmp_path / "synth", rows=30_000)
    size = data.full.stat().st_size
    assert CliRunner().invoke(app, ["init"]).exit_code == 0
    command = [str(Path(sys.executable).parent / "openmyna"), "corporate", "import", str(data.full)]
    process = subprocess.Popen(command, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline, seen = time.monotonic() + 60, 0
    while seen < 2:
        assert process.poll() is None, "the import finished before it could be interrupted"
        assert time.monotonic() < deadline
        position = _read_position(process.pid, data.full.resolve())
        seen = seen + 1 if position is not None and 0.1 * size < position < 0.9 * size else 0
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=30) != 0
    engine = make_engine(env)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Corporation)) == 0
        assert connection.scalar(select(func.count()).select_from(ImportedFile)) == 0
    result = CliRunner().invoke(app, ["corporate", "import", str(data.full)])
    assert result.exit_code == 0, result.output
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Corporation)) == 30_000
    engine.dispose()
