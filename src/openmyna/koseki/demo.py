"""The demo personas' family registers: one kept in the demo town, one in another participating town (横浜市中区),
one in a town that does not issue at convenience stores (大阪市北区), and one whose head lives elsewhere."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from openmyna.koseki import service
from openmyna.koseki.service import NewMember
from openmyna.registry import service as registry

D = dt.date


def seed_registers(session: Session, *, persona_ids: dict[str, int]) -> None:
    """Registers for the persona households (their members matched in the registry by given name); a town
    too small to hold every persona gets none."""
    if not {"parent", "single_parent", "pensioner", "employee"} <= persona_ids.keys():
        return

    def resident(persona: str, given: str | None = None) -> int | None:
        found = registry.find_resident(session, resident_id=persona_ids[persona])
        if found is None or given is None:
            return found.id if found else None
        return next((m.id for m in registry.household_members(session, resident=found) if m.given_name == given), None)

    service.make_register(
        session,
        honseki_municipality_code="131016",
        honseki="東京都千代田区飯田橋三丁目5番",
        head_name="山田　太郎",
        made_on=D(2015, 3, 20),
        made_reason="婚姻",
        members=[
            NewMember(
                "山田",
                "太郎",
                D(1986, 3, 3),
                "male",
                "長男",
                "山田　実",
                "山田　和子",
                resident("parent", "太郎"),
                (("出生", D(1986, 3, 3), "東京都千代田区で出生"), ("婚姻", D(2015, 3, 20), "佐藤花子と婚姻届出")),
            ),
            NewMember(
                "山田",
                "花子",
                D(1988, 6, 12),
                "female",
                "妻",
                "佐藤　茂",
                "佐藤　恵子",
                resident("parent"),
                (
                    ("出生", D(1988, 6, 12), "埼玉県さいたま市で出生"),
                    ("婚姻", D(2015, 3, 20), "山田太郎と婚姻届出（従前戸籍 埼玉県さいたま市 佐藤茂）"),
                ),
            ),
            NewMember(
                "山田",
                "陽翔",
                D(2017, 9, 20),
                "male",
                "長男",
                "山田　太郎",
                "山田　花子",
                resident("parent", "陽翔"),
                (("出生", D(2017, 9, 20), "東京都千代田区で出生　父届出"),),
            ),
            NewMember(
                "山田",
                "結衣",
                D(2020, 12, 1),
                "female",
                "長女",
                "山田　太郎",
                "山田　花子",
                resident("parent", "結衣"),
                (("出生", D(2020, 12, 1), "東京都千代田区で出生　母届出"),),
            ),
        ],
    )
    service.make_register(
        session,
        honseki_municipality_code="141046",
        honseki="神奈川県横浜市中区山下町10番地",
        head_name="佐々木　美咲",
        made_on=D(2018, 9, 14),
        made_reason="離婚",
        members=[
            NewMember(
                "佐々木",
                "美咲",
                D(1990, 2, 14),
                "female",
                "長女",
                "佐々木　誠",
                "佐々木　由美",
                resident("single_parent"),
                (("出生", D(1990, 2, 14), "神奈川県横浜市で出生"), ("離婚", D(2018, 9, 14), "協議離婚届出")),
            ),
            NewMember(
                "佐々木",
                "蓮",
                D(2016, 5, 5),
                "male",
                "長男",
                "",
                "佐々木　美咲",
                resident("single_parent", "蓮"),
                (("出生", D(2016, 5, 5), "神奈川県横浜市で出生"), ("入籍", D(2018, 10, 2), "母の氏を称する入籍届出")),
            ),
        ],
    )
    service.make_register(
        session,
        honseki_municipality_code="271276",
        honseki="大阪府大阪市北区中之島一丁目3番",
        head_name="鈴木　一郎",
        made_on=D(1974, 6, 1),
        made_reason="婚姻",
        members=[
            NewMember(
                "鈴木",
                "一郎",
                D(1948, 11, 23),
                "male",
                "長男",
                "鈴木　清",
                "鈴木　トメ",
                resident("pensioner"),
                (("出生", D(1948, 11, 23), "大阪府大阪市で出生"),),
            ),
        ],
    )
    service.make_register(
        session,
        honseki_municipality_code="131016",
        honseki="東京都千代田区西神田一丁目2番",
        head_name="高橋　誠",
        made_on=D(1990, 5, 10),
        made_reason="婚姻",
        members=[
            NewMember(
                "高橋",
                "誠",
                D(1960, 1, 15),
                "male",
                "長男",
                "高橋　勇",
                "高橋　春子",
                None,
                (("出生", D(1960, 1, 15), "東京都千代田区で出生"),),
            ),
            NewMember(
                "高橋",
                "由美",
                D(1963, 8, 30),
                "female",
                "妻",
                "中村　進",
                "中村　幸子",
                None,
                (("出生", D(1963, 8, 30), "千葉県千葉市で出生"),),
            ),
            NewMember(
                "高橋",
                "健太",
                D(1992, 7, 7),
                "male",
                "長男",
                "高橋　誠",
                "高橋　由美",
                resident("employee"),
                (("出生", D(1992, 7, 7), "東京都千代田区で出生"),),
            ),
        ],
    )
