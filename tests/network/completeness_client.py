"""An independent client's completeness check, written from docs/network.md ("Completeness") alone.

Nothing here imports the server's code: hashing, the chain, the map walk and the page rules are written
again from the document, as a portal or a phone app would (inclusion proofs use ``rfc6962.py``).
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from tests.network import rfc6962


class NotComplete(Exception):
    pass


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _d(text: str) -> bytes:
    return base64.b64decode(text)


def _verify_head(head: dict[str, Any], public: Ed25519PublicKey) -> None:
    size, stamp = head["tree_size"], head["timestamp"]
    root, map_root = _d(head["sha256_root_hash"]), _d(head["sha256_map_root"])
    public.verify(_d(head["tree_head_signature"]), struct.pack(">BBQQ", 0, 1, stamp, size) + root)
    statement = b"openmyna person map v1\x00" + struct.pack(">QQ", stamp, size) + root + map_root
    public.verify(_d(head["map_head_signature"]), statement)


def _map_root(key: bytes, terminal: bytes, siblings: list[bytes]) -> bytes:
    bits = int.from_bytes(key, "big")
    node = terminal
    for depth in reversed(range(len(siblings))):  # siblings[depth] hangs beside the walk below depth `depth`
        right = (bits >> (255 - depth)) & 1
        node = _h(b"\x01" + siblings[depth] + node) if right else _h(b"\x01" + node + siblings[depth])
    return node


def check(
    pages: list[dict[str, Any]], pseudonym: str, public: Ed25519PublicKey, latest_published: dict[str, Any]
) -> int:
    """Raise NotComplete unless ``pages`` (newest first, all of them) are this person's whole history as of
    the latest published head; return how many records were proven."""
    head = pages[0]["tree_head"]
    if head["tree_size"] < latest_published["tree_size"]:
        raise NotComplete("stale head")
    _verify_head(head, public)
    key = _h(pseudonym.encode())
    shown: dict[int, bytes] = {}
    chain_leaves: list[int] = []
    for page in pages:
        if page["tree_head"] != head:
            raise NotComplete("pages under different heads")
        proof = page["completeness"]
        if _d(proof["map_key"]) != key:
            raise NotComplete("wrong map key")
        value = _d(proof["chain_before"])
        if proof["segment_start"] == 0 and value != bytes(32):
            raise NotComplete("chain does not start at zero")
        leaves = {}
        for element in proof["segment"]:
            index, leaf = element["leaf_index"], _d(element["leaf_hash"])
            value = _h(b"\x02" + value + index.to_bytes(8, "big") + leaf)
            leaves[index] = leaf
        count = proof["segment_start"] + len(proof["segment"])
        terminal = proof["map_terminal"]
        if count == 0:
            end = bytes(32)
            if terminal is not None:
                other = _d(terminal["key"])
                if other == key:
                    raise NotComplete("absence proven with the person's own leaf")
                depth = len(proof["map_siblings"])
                if int.from_bytes(other, "big") >> (256 - depth) != int.from_bytes(key, "big") >> (256 - depth):
                    raise NotComplete("the leaf ending the walk is not on the person's path")
                # the leaf's digest is computed from its preimage, never taken as given
                chain_head = _d(terminal["chain_head"])
                end = _h(b"\x00" + other + terminal["count"].to_bytes(8, "big") + chain_head)
        else:
            end = _h(b"\x00" + key + count.to_bytes(8, "big") + value)
            if terminal is None or _d(terminal["key"]) != key or _d(terminal["digest"]) != end:
                raise NotComplete("chain head not the map's")
        if _map_root(key, end, [_d(s) for s in proof["map_siblings"]]) != _d(head["sha256_map_root"]):
            raise NotComplete("map proof does not reach the signed map root")
        for item in page["items"]:
            for record in item["records"]:
                if record["status"] != "included":
                    continue
                entry = record["entry"].encode()
                index = record["leaf_index"]
                if json.loads(entry)["citizen"] != pseudonym:
                    raise NotComplete("someone else's record")
                if leaves.get(index) != _h(b"\x00" + entry):
                    raise NotComplete(f"record {index} not in the chain")
                path = [_d(p) for p in record["audit_path"]]
                if not rfc6962.verify_inclusion(entry, index, head["tree_size"], path, _d(head["sha256_root_hash"])):
                    raise NotComplete(f"record {index} not in the log")
                if index in shown:
                    raise NotComplete(f"record {index} shown twice")
                shown[index] = entry
        chain_leaves = list(leaves)
    if pages[-1]["completeness"]["segment_start"] != 0:
        raise NotComplete("older chain records never shown")
    if sorted(chain_leaves) != sorted(shown):
        raise NotComplete("a chain record was not shown")
    return len(shown)
