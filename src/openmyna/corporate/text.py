"""Normalising Japanese names for search, and the 2-character index tokens.

Search text folds the variants people type: full-/half-width letters and digits, half-width kana
(ｶﾌﾞｼｷｶﾞｲｼｬ), hiragana vs katakana and letter case, with jaconv. The same function runs on the stored
names and on the query, so both sides meet.
"""

from __future__ import annotations

import itertools
import re
import unicodedata

import jaconv

_HIRAGANA = re.compile("[\u3041-\u309f]")
_SPACES = str.maketrans({"\u3000": " ", "\t": " ", "\n": " "})
# Separates name, furigana and English name in the search text; never typed in a query.
FIELD_SEPARATOR = "\x1f"
# Pairs with the last character of a field, so every character starts some bigram (1-character queries).
_END = 0


def normalise(value: str) -> str:
    """Fold width, kana kind and case: 'ｶﾌﾞｼｷｶﾞｲｼｬ', 'かぶしきがいしゃ' and 'カブシキガイシャ' become one.

    NFKC turns half-width kana (with their voicing marks) into full-width and full-width letters and
    digits into ASCII; jaconv turns hiragana into katakana (skipped when there is none: most names).
    """
    text = unicodedata.normalize("NFKC", value)
    if _HIRAGANA.search(text):
        text = jaconv.hira2kata(text)
    return " ".join(text.translate(_SPACES).lower().split())


def search_text(name: str, furigana: str | None, en_name: str | None) -> str:
    """What partial-match search runs over: the three names, normalised, kept apart by a separator."""
    return FIELD_SEPARATOR.join(normalise(part) for part in (name, furigana or "", en_name or ""))


_CODES: dict[str, str] = {}


def _code(char: str) -> str:
    code = _CODES.get(char)
    if code is None:
        code = _CODES[char] = format(ord(char), "x")
    return code


def bigram_tokens(text: str) -> str:
    """Overlapping 2-character pieces as ASCII tokens ('4e1cx4eac'), one per piece, space-separated.

    Spaces inside names break pieces; each field's last character pairs with an end marker, so a
    1-character query is a prefix query on the tokens.
    """
    tokens: list[str] = []
    for field in text.split(FIELD_SEPARATOR):
        for word in field.split(" "):
            if not word:
                continue
            codes = [_code(c) for c in word]
            tokens.extend(f"{a}x{b}" for a, b in itertools.pairwise(codes))
            tokens.append(f"{codes[-1]}x{_END}")
    return " ".join(tokens)


def bigram_query(term: str) -> str:
    """FTS5 query for a normalised 1- or 2-character term over :func:`bigram_tokens`."""
    if len(term) == 1:
        return f"{_code(term)}x*"
    return f"{_code(term[0])}x{_code(term[1])}"
