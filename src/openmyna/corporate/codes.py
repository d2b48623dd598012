"""Code lists of the National Tax Agency's corporate-number data (DOMAIN.md §3) and the NTA CSV columns."""

from __future__ import annotations

# The 30 columns of the NTA CSV, in order, as attribute names (the NTA's camelCase names in NTA_FIELDS).
NTA_FIELDS: tuple[str, ...] = (
    "sequenceNumber",
    "corporateNumber",
    "process",
    "correct",
    "updateDate",
    "changeDate",
    "name",
    "nameImageId",
    "kind",
    "prefectureName",
    "cityName",
    "streetNumber",
    "addressImageId",
    "prefectureCode",
    "cityCode",
    "postCode",
    "addressOutside",
    "addressOutsideImageId",
    "closeDate",
    "closeCause",
    "successorCorporateNumber",
    "changeCause",
    "assignmentDate",
    "latest",
    "enName",
    "enPrefectureName",
    "enCityName",
    "enAddressOutside",
    "furigana",
    "hihyoji",
)
COLUMNS: tuple[str, ...] = (
    "sequence_number",
    "corporate_number",
    "process",
    "correct",
    "update_date",
    "change_date",
    "name",
    "name_image_id",
    "kind",
    "prefecture_name",
    "city_name",
    "street_number",
    "address_image_id",
    "prefecture_code",
    "city_code",
    "post_code",
    "address_outside",
    "address_outside_image_id",
    "close_date",
    "close_cause",
    "successor_corporate_number",
    "change_cause",
    "assignment_date",
    "latest",
    "en_name",
    "en_prefecture_name",
    "en_city_name",
    "en_address_outside",
    "furigana",
    "hihyoji",
)
assert len(NTA_FIELDS) == len(COLUMNS) == 30

PROCESS = {
    "01": ("新規", "new"),
    "11": ("商号又は名称の変更", "name changed"),
    "12": ("国内所在地の変更", "domestic address changed"),
    "13": ("国外所在地の変更", "foreign address changed"),
    "21": ("登記記録の閉鎖等", "registration closed"),
    "22": ("登記記録の復活等", "registration restored"),
    "71": ("吸収合併", "absorbed in a merger"),
    "72": ("吸収合併無効", "merger annulled"),
    "81": ("商号の登記の抹消", "trade-name registration erased"),
    "99": ("削除", "deleted"),
}
KIND = {
    "101": ("国の機関", "national government organ"),
    "201": ("地方公共団体", "local government"),
    "301": ("株式会社", "stock company"),
    "302": ("有限会社", "limited company (tokurei)"),
    "303": ("合名会社", "general partnership company"),
    "304": ("合資会社", "limited partnership company"),
    "305": ("合同会社", "limited liability company"),
    "399": ("その他の設立登記法人", "other registered corporation"),
    "401": ("外国会社等", "foreign company"),
    "499": ("その他", "other"),
}
CLOSE_CAUSE = {
    "01": ("清算の結了等", "liquidation completed"),
    "11": ("合併による解散等", "dissolved by merger"),
    "21": ("登記官による閉鎖", "closed by the registrar"),
    "31": ("その他の清算の結了等", "other liquidation completed"),
}
# Process codes after which the corporation no longer exists (閉鎖・合併・抹消・削除).
CLOSING_PROCESSES = frozenset({"21", "71", "81", "99"})

# The NTA Web-API's `kind` filter groups kinds: 01 national, 02 local, 03 registered, 04 other.
KIND_GROUPS = {"01": ("101",), "02": ("201",), "03": ("301", "302", "303", "304", "305", "399"), "04": ("401", "499")}

_PREFECTURE_NAMES = (
    "北海道 青森県 岩手県 宮城県 秋田県 山形県 福島県 茨城県 栃木県 群馬県 埼玉県 千葉県 東京都 神奈川県 新潟県 富山県 "
    "石川県 福井県 山梨県 長野県 岐阜県 静岡県 愛知県 三重県 滋賀県 京都府 大阪府 兵庫県 奈良県 和歌山県 鳥取県 島根県 "
    "岡山県 広島県 山口県 徳島県 香川県 愛媛県 高知県 福岡県 佐賀県 長崎県 熊本県 大分県 宮崎県 鹿児島県 沖縄県"
)
PREFECTURES: dict[str, str] = {f"{i:02d}": name for i, name in enumerate(_PREFECTURE_NAMES.split(), start=1)}


def label(codes: dict[str, tuple[str, str]], code: str | None, lang: str = "ja") -> str:
    """The Japanese (or English) label of a code, or the code itself when unknown."""
    if not code:
        return ""
    pair = codes.get(code)
    return (pair[0] if lang == "ja" else pair[1]) if pair else code
