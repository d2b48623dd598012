"""The citizen's check of their history (``openmyna network verify-person``): from the pages served and the
hub's public key alone, is this history complete as of the signed head?

Deliberately uses nothing of the server's storage: it reads the JSON the history API returns, so a
portal or a phone can run the same steps (docs/network.md, "Completeness", spells them out).
"""

from __future__ import annotations

import base64
import json
import struct
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from openmyna.network import smt
from openmyna.network.completeness import map_head_message
from openmyna.network.merkle import leaf_hash, node_hash


@dataclass(frozen=True)
class PersonReport:
    ok: bool
    records: int
    tree_size: int
    problem: str = ""


class Incomplete(Exception):
    """The history served fails one of the checks."""


def _b(value: str) -> bytes:
    return base64.b64decode(value)


def _root_from_audit_path(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes:
    """RFC 9162 §2.1.3.2: fold an audit path up from a leaf hash."""
    if index >= size:
        raise Incomplete(f"leaf {index} is outside the tree of {size}")
    fn, sn, digest = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            raise Incomplete(f"the audit path of leaf {index} is too long")
        if fn & 1 or fn == sn:
            digest = node_hash(sibling, digest)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            digest = node_hash(digest, sibling)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise Incomplete(f"the audit path of leaf {index} is too short")
    return digest


def check_head(head: dict[str, Any] | None, public: Ed25519PublicKey, known: dict[str, Any] | None) -> None:
    """Both signatures of the head, and that it is not older than a head the client already knows."""
    if head is None or head.get("sha256_map_root") is None:
        raise Incomplete("the page carries no signed head with a person map")
    size, stamp, root, map_root = (
        head["tree_size"],
        head["timestamp"],
        _b(head["sha256_root_hash"]),
        _b(head["sha256_map_root"]),
    )
    try:
        public.verify(_b(head["tree_head_signature"]), struct.pack(">BBQQ", 0, 1, stamp, size) + root)
        public.verify(_b(head["map_head_signature"]), map_head_message(size, stamp, root, map_root))
    except InvalidSignature as exc:
        raise Incomplete(f"the signature of the head of size {size} does not verify") from exc
    if known is not None and (
        size < known["tree_size"]
        or (size == known["tree_size"] and head["sha256_root_hash"] != known["sha256_root_hash"])
    ):
        raise Incomplete(f"stale head: the page shows size {size}, but size {known['tree_size']} is published")


def check_page(page: dict[str, Any], citizen: str) -> tuple[list[int], set[int]]:
    """One page against its head: the chain segment, the map proof, every record shown.

    Returns the segment's leaf indexes (oldest first) and the leaf indexes the page shows.
    """
    head, proof = page["tree_head"], page.get("completeness")
    if proof is None:
        raise Incomplete("the page carries no completeness proof")
    size, log_root, map_root = head["tree_size"], _b(head["sha256_root_hash"]), _b(head["sha256_map_root"])
    key = smt.map_key(citizen)
    if _b(proof["map_key"]) != key.to_bytes(32, "big"):
        raise Incomplete("the map proof is for someone else")
    chain = _b(proof["chain_before"])
    if proof["segment_start"] == 0 and chain != smt.ZERO:
        raise Incomplete("a chain that starts at its first record must start from zero")
    segment = [(e["leaf_index"], _b(e["leaf_hash"])) for e in proof["segment"]]
    for leaf, digest in segment:
        chain = smt.chain_step(chain, leaf, digest)
    count = proof["segment_start"] + len(segment)
    if count != proof["chain_length"]:
        raise Incomplete("the chain's length does not add up")
    terminal = proof["map_terminal"]
    if count:
        expected = smt.leaf_digest(key, count, chain)
        if terminal is None or _b(terminal["key"]) != key.to_bytes(32, "big") or _b(terminal["digest"]) != expected:
            raise Incomplete("the chain served does not end at the person's head in the map")
        end = expected
    elif terminal is None:
        end = smt.ZERO
    else:  # another person's leaf where this person's walk ends: it must share the walk's prefix
        other, depth = int.from_bytes(_b(terminal["key"]), "big"), len(proof["map_siblings"])
        if other == key or (depth and other >> (smt.BITS - depth) != key >> (smt.BITS - depth)):
            raise Incomplete("the map's proof of absence is not on this person's path")
        if not isinstance(terminal.get("count"), int) or not terminal.get("chain_head"):
            raise Incomplete("the map's proof of absence does not show the leaf it ends at")
        # hashed here, never taken from the page: an inner node passed off as a leaf would hide a whole subtree
        end = smt.leaf_digest(other, terminal["count"], _b(terminal["chain_head"]))
    if smt.root_from_proof(key, end, [_b(s) for s in proof["map_siblings"]]) != map_root:
        raise Incomplete("the person's map proof does not give the signed map root")
    in_segment = dict(segment)
    shown: set[int] = set()
    for item in page["items"]:
        for record in item["records"]:
            if record["status"] != "included":
                continue
            leaf, entry = record["leaf_index"], record["entry"].encode()
            if json.loads(entry).get("citizen") != citizen:
                raise Incomplete(f"the record at leaf {leaf} is someone else's")
            digest = leaf_hash(entry)
            if in_segment.get(leaf) != digest:
                raise Incomplete(f"the record at leaf {leaf} is not in the person's chain")
            path = [_b(p) for p in record["audit_path"]]
            if _root_from_audit_path(digest, leaf, size, path) != log_root:
                raise Incomplete(f"the record at leaf {leaf} is not in the signed log")
            shown.add(leaf)
    return [leaf for leaf, _digest in segment], shown


def check_history(
    pages: list[dict[str, Any]], *, citizen: str, public: Ed25519PublicKey, known: dict[str, Any] | None = None
) -> PersonReport:
    """Every page of a history, newest first: one head, each page proven, every chain record shown once."""
    size = 0
    try:
        if not pages:
            raise Incomplete("no pages")
        head = pages[0]["tree_head"]
        check_head(head, public, known)
        size = head["tree_size"]
        shown: set[int] = set()
        segment: list[int] = []
        for page in pages:
            if page["tree_head"] != head:
                raise Incomplete("the pages were served under different heads")
            segment, on_page = check_page(page, citizen)
            if shown & on_page:
                raise Incomplete(f"leaf {min(shown & on_page)} is shown twice")
            shown |= on_page
        if pages[-1]["completeness"]["segment_start"] != 0:
            raise Incomplete("the oldest records of the chain were never shown")
        missing = sorted(set(segment) - shown)
        if missing:
            raise Incomplete(f"the record at leaf {missing[0]} is in the person's chain but was not shown")
        return PersonReport(True, len(shown), size)
    except (Incomplete, KeyError, TypeError, ValueError) as exc:
        return PersonReport(False, 0, size, str(exc) or type(exc).__name__)
