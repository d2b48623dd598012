"""戸籍 and its 附票 at the kiosk: the family register kept by the municipality of its 本籍, which may not be
where the holder lives, and the 住民票's 本籍・筆頭者 on request."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from openmyna.core.config import Settings
from openmyna.jpki.authority import CaConfig
from openmyna.jpki.ocsp import Responder
from openmyna.kiosk import centre, clients, documents, municipality, rules, runtime, terminal
from openmyna.kiosk.models import IssuedCertificate, Sale
from openmyna.koseki import service as koseki
from openmyna.koseki.service import NewMember
from openmyna.orgs.service import Caller
from openmyna.registry import service as registry
from openmyna.registry.schemas import MoveWithin
from tests.kiosk.conftest import Person, card_request
from tests.kiosk.test_issue import refused, text_of

D = dt.date


def register_for(
    db: Session, holder: Person, *, town: str = "131016", honseki: str = "東京都千代田区九段南一丁目2番"
) -> None:
    """A register with the holder's parents (who live elsewhere: no resident record) and the holder."""
    koseki.make_register(
        db,
        honseki_municipality_code=town,
        honseki=honseki,
        head_name="山田　実",
        made_on=D(1985, 4, 10),
        made_reason="婚姻",
        members=[
            NewMember("山田", "実", D(1958, 2, 1), "male", "長男", events=(("出生", D(1958, 2, 1), "東京都で出生"),)),
            NewMember("山田", "和子", D(1960, 7, 9), "female", "妻", events=(("婚姻", D(1985, 4, 10), "婚姻届出"),)),
            NewMember(
                "山田",
                "花子",
                D(1990, 2, 3),
                "female",
                "長女",
                father="山田　実",
                mother="山田　和子",
                resident_id=holder.resident_id,
                events=(("出生", D(1990, 2, 3), "東京都千代田区で出生　父届出"),),
            ),
        ],
    )
    db.commit()


def issue(session_factory: sessionmaker[Session], client: object, request: centre.CardRequest) -> terminal.Printed:
    return terminal.issue(session_factory, centre_client=client, request=request)  # type: ignore[arg-type]


def test_the_whole_register_and_one_entry(db: Session, session_factory, person, in_process_centre) -> None:
    holder = person()
    register_for(db, holder)
    whole = issue(session_factory, in_process_centre, card_request(holder, kind="koseki"))
    text = text_of(whole.pdf)
    assert whole.fee == 450 and "戸籍全部事項証明書" in text and "東京都千代田区九段南一丁目2番" in text
    assert all(name in text for name in ("山田　実", "山田　和子", "山田　花子")) and "出生" in text
    assert "記録事項の全部を証明" in text and text.count("戸籍に記録されている者") == 3
    one = issue(
        session_factory,
        in_process_centre,
        card_request(holder, kind="koseki", options=documents.Options(household=False)),
    )
    text = text_of(one.pdf)
    assert "戸籍個人事項証明書" in text and text.count("戸籍に記録されている者") == 1 and "山田　花子" in text
    assert municipality.verify(db, number=one.number).summary["people"] == 2  # type: ignore[union-attr]


def test_the_annex_follows_the_holders_moves(
    db: Session, session_factory, person, in_process_centre, clerk: Caller
) -> None:
    holder = person()
    register_for(db, holder)
    before = registry.find_resident(db, resident_id=holder.resident_id).address  # type: ignore[union-attr]
    move = MoveWithin.model_validate(
        {"event_date": "2026-06-01", "address": {"postal_code": "1010021", "block": "1番1号"}}
    )
    registry.move_within(db, resident_id=holder.resident_id, municipality_code="131016", data=move, caller=clerk)
    db.commit()
    after = registry.find_resident(db, resident_id=holder.resident_id).address  # type: ignore[union-attr]
    text = text_of(issue(session_factory, in_process_centre, card_request(holder, kind="koseki_fuhyo")).pdf)
    assert "戸籍の附票の写し" in text and before in text and after in text
    assert text.index(before) < text.index(after)  # oldest first
    assert "この市区町村の記録なし" in text  # the parents live elsewhere


def test_a_register_kept_by_another_town_is_issued_by_that_town(
    db: Session, session_factory, person, in_process_centre
) -> None:
    holder = person()  # lives in 千代田区
    register_for(db, holder, town="141046", honseki="神奈川県横浜市中区山下町10番地")
    printed = issue(session_factory, in_process_centre, card_request(holder, kind="koseki"))
    row = db.scalar(select(IssuedCertificate).where(IssuedCertificate.number == printed.number))
    assert row is not None and row.municipality == "141046"
    assert "横浜市中区長" in text_of(printed.pdf)
    # the same person's 住民票 is still the town of residence's
    juminhyo = issue(session_factory, in_process_centre, card_request(holder))
    row = db.scalar(select(IssuedCertificate).where(IssuedCertificate.number == juminhyo.number))
    assert row is not None and row.municipality == "131016"


def test_a_register_in_a_town_that_does_not_take_part_is_refused_and_nothing_charged(
    db: Session, session_factory, person, in_process_centre
) -> None:
    holder = person()
    register_for(db, holder, town="271276", honseki="大阪府大阪市北区中之島一丁目3番")
    error = refused(
        session_factory, in_process_centre, card_request(holder, kind="koseki"), centre.RegisterNotParticipating
    )
    assert "271276" in error.detail and error.slug == "kiosk-honseki-not-participating"
    assert (db.scalar(select(func.count()).select_from(Sale)) or 0) == 0


def test_no_register_is_nothing_to_certify(session_factory, person, in_process_centre) -> None:
    refused(session_factory, in_process_centre, card_request(person(), kind="koseki_fuhyo"), documents.NothingToCertify)


def test_the_juminhyo_shows_honseki_only_on_request(db: Session, session_factory, person, in_process_centre) -> None:
    holder = person()
    register_for(db, holder)
    plain = text_of(issue(session_factory, in_process_centre, card_request(holder)).pdf)
    assert "九段南" not in plain and "本籍・筆頭者の記載は省略" in plain
    options = documents.Options(honseki=True)
    asked = text_of(issue(session_factory, in_process_centre, card_request(holder, options=options)).pdf)
    assert "東京都千代田区九段南一丁目2番" in asked and "山田　実" in asked and "本籍・筆頭者の記載は省略" not in asked


def test_a_kind_a_town_does_not_offer(
    db: Session, tmp_path: Path, session_factory, person, settings: Settings, ca_config: CaConfig
) -> None:
    holder = person()
    register_for(db, holder)
    town = (Path(runtime.__file__).parent / "data" / "municipalities" / "131016.yaml").read_text(encoding="utf-8")
    (tmp_path / "131016.yaml").write_text(town.replace("  koseki: 450\n", ""), encoding="utf-8")
    narrow = settings.model_copy(update={"kiosk_municipalities_dir": str(tmp_path)})
    client = clients.InProcessCentre(
        responder=Responder(session_factory, ca_config),
        municipalities=runtime.participating(narrow),
        client=clients.InProcessMunicipality(
            config=ca_config, caller=runtime.centre_caller(narrow), base_url=ca_config.base_url
        ),
        caller=runtime.centre_caller(narrow),
    )
    error = refused(session_factory, client, card_request(holder, kind="koseki"), rules.KindNotOffered)
    assert "koseki" in error.detail


@pytest.mark.parametrize(
    "change, detail",
    [({"honseki_municipality_code": "999999"}, "not a local-government code"), ({"members": []}, "at least its head")],
)
def test_a_malformed_register_is_refused(db: Session, change: dict, detail: str) -> None:
    fields = {
        "honseki_municipality_code": "131016",
        "honseki": "東京都千代田区",
        "head_name": "山田　実",
        "made_on": D(2000, 1, 1),
        "made_reason": "婚姻",
        "members": [NewMember("山田", "実", D(1958, 2, 1), "male", "長男")],
    }
    with pytest.raises(koseki.InvalidRegister, match=detail):
        koseki.make_register(db, **{**fields, **change})
    with pytest.raises(koseki.InvalidRegister, match="unknown event"):
        koseki.make_register(
            db,
            **{
                **fields,
                "members": [NewMember("山田", "実", D(1958, 2, 1), "male", "長男", events=(("x", D(2000, 1, 1), ""),))],
            },
        )
