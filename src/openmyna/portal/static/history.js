// やりとり履歴: the browser checks the proofs itself with WebCrypto (no trust in the page's own claims).
// Per record: RFC 6962/9162 inclusion of the record's exact bytes under the signed tree head, and the
// head's Ed25519 signature. Per page: the person's chain segment, its leaf in the signed person map, and
// that no record of the chain between the ones shown was left out (docs/network.md, "Completeness").
(function () {
  "use strict";
  var holder = document.getElementById("history-data");
  var proofs = document.getElementById("proofs");
  if (!holder || !proofs) { return; }
  var data = JSON.parse(holder.textContent);
  var msg = proofs.dataset;
  var ZERO = new Uint8Array(32);

  function b64(text) {
    var raw = atob(text);
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) { out[i] = raw.charCodeAt(i); }
    return out;
  }
  function concat() {
    var total = 0, i;
    for (i = 0; i < arguments.length; i++) { total += arguments[i].length; }
    var out = new Uint8Array(total), at = 0;
    for (i = 0; i < arguments.length; i++) { out.set(arguments[i], at); at += arguments[i].length; }
    return out;
  }
  function u64(value) {
    var out = new Uint8Array(8);
    new DataView(out.buffer).setBigUint64(0, BigInt(value));
    return out;
  }
  function equal(a, b) {
    if (a.length !== b.length) { return false; }
    for (var i = 0; i < a.length; i++) { if (a[i] !== b[i]) { return false; } }
    return true;
  }
  async function sha256(bytes) { return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes)); }
  function byte(value) { return new Uint8Array([value]); }
  async function nodeHash(left, right) { return sha256(concat(byte(1), left, right)); }
  async function leafHash(entry) { return sha256(concat(byte(0), new TextEncoder().encode(entry))); }

  // RFC 9162 §2.1.3.2: fold an audit path up from a leaf hash.
  async function rootFromPath(leaf, index, size, path) {
    if (index >= size) { throw new Error("leaf " + index + " is outside the tree of " + size); }
    var fn = BigInt(index), sn = BigInt(size - 1), digest = leaf;
    for (var i = 0; i < path.length; i++) {
      if (sn === 0n) { throw new Error("the audit path of leaf " + index + " is too long"); }
      if ((fn & 1n) === 1n || fn === sn) {
        digest = await nodeHash(path[i], digest);
        while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        digest = await nodeHash(digest, path[i]);
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) { throw new Error("the audit path of leaf " + index + " is too short"); }
    return digest;
  }

  // The head's two Ed25519 signatures, in this browser when WebCrypto has Ed25519 (null: it has not).
  var signatureCheck = null;
  function checkSignatures() {
    if (signatureCheck) { return signatureCheck; }
    signatureCheck = (async function () {
      var head = data.tree_head, key;
      try {
        key = await crypto.subtle.importKey("spki", b64(data.public_key), { name: "Ed25519" }, false, ["verify"]);
      } catch (unsupported) {
        return null;
      }
      var root = b64(head.sha256_root_hash);
      var treeHead = concat(byte(0), byte(1), u64(head.timestamp), u64(head.tree_size), root);
      if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, b64(head.tree_head_signature), treeHead))) {
        throw new Error("the tree head's signature does not verify");
      }
      if (head.sha256_map_root) {
        var mapHead = concat(new TextEncoder().encode("openmyna person map v1\u0000"), u64(head.timestamp),
          u64(head.tree_size), root, b64(head.sha256_map_root));
        if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, b64(head.map_head_signature), mapHead))) {
          throw new Error("the person map head's signature does not verify");
        }
      }
      return true;
    })();
    return signatureCheck;
  }
  async function signatureText() {
    if (await checkSignatures()) { return " " + msg.msgSigBrowser; }
    if (msg.serverHead !== "ok") { throw new Error("the tree head's signature is not verified"); }
    return " " + msg.msgSigServer;
  }

  async function checkRecord(record) {
    if (JSON.parse(record.entry).citizen !== data.citizen) {
      throw new Error("the record at leaf " + record.leaf_index + " is someone else's");
    }
    var head = data.tree_head;
    var root = await rootFromPath(await leafHash(record.entry), record.leaf_index, head.tree_size,
      record.audit_path.map(b64));
    if (!equal(root, b64(head.sha256_root_hash))) {
      throw new Error("the record at leaf " + record.leaf_index + " is not in the signed log");
    }
  }

  async function verifyItem(index, output) {
    output.className = "verify-result";
    output.textContent = msg.msgWorking;
    try {
      var records = data.items[index].records.filter(function (r) { return r.status === "included"; });
      for (var i = 0; i < records.length; i++) { await checkRecord(records[i]); }
      output.textContent = msg.msgOkRecord + (await signatureText());
      output.className = "verify-result verified";
    } catch (error) {
      output.textContent = msg.msgFail + error.message;
      output.className = "verify-result failed";
    }
  }

  function bit(key, depth) { return (key[depth >> 3] >> (7 - (depth & 7))) & 1; }

  async function rootFromMapProof(key, terminal, siblings) {
    var digest = terminal;
    for (var depth = siblings.length; depth > 0; depth--) {
      var sibling = siblings[depth - 1];
      digest = bit(key, depth - 1) ? await nodeHash(sibling, digest) : await nodeHash(digest, sibling);
    }
    return digest;
  }

  // The page is the newest part of the person's whole chain, committed in the signed person map.
  async function verifyPage() {
    var proof = data.completeness, head = data.tree_head;
    if (!proof) { throw new Error("the page carries no completeness proof"); }
    var key = await sha256(new TextEncoder().encode(data.citizen));
    if (!equal(b64(proof.map_key), key)) { throw new Error("the map proof is for someone else"); }
    var chain = b64(proof.chain_before);
    if (proof.segment_start === 0 && !equal(chain, ZERO)) { throw new Error("a chain must start from zero"); }
    var inSegment = new Map();
    for (var i = 0; i < proof.segment.length; i++) {
      var link = proof.segment[i];
      chain = await sha256(concat(byte(2), chain, u64(link.leaf_index), b64(link.leaf_hash)));
      inSegment.set(link.leaf_index, b64(link.leaf_hash));
    }
    var count = proof.segment_start + proof.segment.length;
    if (count !== proof.chain_length) { throw new Error("the chain's length does not add up"); }
    var end, terminal = proof.map_terminal;
    if (count) {
      end = await sha256(concat(byte(0), key, u64(count), chain));
      if (!terminal || !equal(b64(terminal.key), key) || !equal(b64(terminal.digest), end)) {
        throw new Error("the chain served does not end at your leaf in the map");
      }
    } else if (!terminal) {
      end = ZERO;
    } else {
      // No records: the walk ends at another person's leaf, which must lie on this person's path, and
      // whose digest is hashed here from its parts (never taken from the page).
      var other = b64(terminal.key), depth = proof.map_siblings.length;
      if (equal(other, key)) { throw new Error("the map's proof of absence is not on your path"); }
      for (var d = 0; d < depth; d++) {
        if (bit(other, d) !== bit(key, d)) { throw new Error("the map's proof of absence is not on your path"); }
      }
      if (typeof terminal.count !== "number" || !terminal.chain_head) {
        throw new Error("the map's proof of absence does not show the leaf it ends at");
      }
      end = await sha256(concat(byte(0), other, u64(terminal.count), b64(terminal.chain_head)));
    }
    var mapRoot = await rootFromMapProof(key, end, proof.map_siblings.map(b64));
    if (!equal(mapRoot, b64(head.sha256_map_root))) { throw new Error("your map proof does not give the signed map root"); }
    var shown = [];
    for (var j = 0; j < data.items.length; j++) {
      var records = data.items[j].records;
      for (var k = 0; k < records.length; k++) {
        var record = records[k];
        if (record.status !== "included") { continue; }
        await checkRecord(record);
        var expected = inSegment.get(record.leaf_index);
        if (!expected || !equal(expected, await leafHash(record.entry))) {
          throw new Error("the record at leaf " + record.leaf_index + " is not in your chain");
        }
        shown.push(record.leaf_index);
      }
    }
    var newestShown = shown.length ? Math.max.apply(null, shown) : -1;
    var between = proof.segment.filter(function (l) {
      return l.leaf_index < newestShown && shown.indexOf(l.leaf_index) < 0;
    });
    if (between.length && !data.filtered) {
      throw new Error("the record at leaf " + between[0].leaf_index + " is in your chain but was not shown");
    }
    var text = msg.msgOkPage + count + "." + (data.filtered ? msg.msgFiltered + between.length + "）" : "");
    return text + (await signatureText());
  }

  var buttons = document.querySelectorAll("button.verify");
  buttons.forEach(function (button) {
    button.addEventListener("click", function () {
      var index = Number(button.dataset.index);
      verifyItem(index, document.getElementById("verify-result-" + index));
    });
  });
  var pageButton = document.getElementById("verify-page");
  if (pageButton) {
    pageButton.addEventListener("click", async function () {
      var output = document.getElementById("page-result");
      output.textContent = msg.msgWorking;
      output.className = "";
      try {
        output.textContent = await verifyPage();
        output.className = "verified";
      } catch (error) {
        output.textContent = msg.msgFail + error.message;
        output.className = "failed";
      }
    });
  }
})();
