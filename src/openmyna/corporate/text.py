"""Normalising Japanese names for search, and the 2-character index tokens.

Search text folds the variants people type: full-/half-width letters and digits, half-width kana
(ｶﾌﾞｼｷｶﾞｲｼｬ), hiragana vs katakana and letter case, with jaconv. The same function runs on the stored
names and on the query, so both sides meet.
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata

import jaconv
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

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


# Code points up to here get their token text from a table; a text with a character beyond (rare CJK
# extensions) has its tokens written by :func:`bigram_tokens` one by one.
_TABLE_LIMIT = 0x30000
_BREAKS = (ord(" "), ord(FIELD_SEPARATOR))


@functools.cache
def _hex_table() -> pa.Array:
    return pa.array([format(code, "x") for code in range(_TABLE_LIMIT)])


def bigram_tokens_many(texts: list[str]) -> list[str]:
    """:func:`bigram_tokens` of every text, computed for the whole list at once (NumPy and Arrow).

    The texts' characters are laid end to end as code points; every character that is not a break
    (space, field separator) yields one token, paired with the next character or, at a break or the
    end of its text, with the end marker. A bulk load spends several times less here than one by one.
    """
    if not texts:
        return []
    codes = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32)
    if len(codes) == 0 or int(codes.max()) >= _TABLE_LIMIT:
        return [bigram_tokens(text) for text in texts]
    ends = np.cumsum([len(text) for text in texts])
    following = np.zeros_like(codes)
    following[:-1] = codes[1:]
    following[ends[ends > 0] - 1] = _END
    following[np.isin(following, _BREAKS)] = _END
    starts_token = ~np.isin(codes, _BREAKS)
    # Where each text's tokens start and end in the flat list of tokens.
    offsets = np.concatenate(([0], np.cumsum(starts_token)))[np.concatenate(([0], ends))].astype(np.int32)
    table = _hex_table()
    pieces = pc.binary_join_element_wise(
        table.take(pa.array(codes[starts_token])), table.take(pa.array(following[starts_token])), "x"
    )
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), pieces), " ").to_pylist()


def bigram_query(term: str) -> str:
    """FTS5 query for a normalised 1- or 2-character term over :func:`bigram_tokens`."""
    if len(term) == 1:
        return f"{_code(term)}x*"
    return f"{_code(term[0])}x{_code(term[1])}"
