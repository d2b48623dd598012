// The kiosk terminal: the card (through the local card reader) signs the request after the PIN, the
// server (acting as the store terminal) asks the issuance centre, and the page offers the print.
// No inline script: the page's policy forbids it. Messages come from data- attributes.
(function () {
  "use strict";
  var root = document.getElementById("kiosk");
  if (!root) { return; }
  var form = document.getElementById("kiosk-form");
  var status = document.getElementById("kiosk-status");
  var submit = document.getElementById("kiosk-submit");
  var pin = document.getElementById("pin");
  var query = "?store=" + encodeURIComponent(root.dataset.store);
  var headers = { "Content-Type": "application/json", "X-CSRF-Token": root.dataset.csrf };

  var say = function (text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  };
  var problemText = function (body) {
    var title = document.documentElement.lang === "en" ? body.title : body.title_ja || body.title;
    return title + (body.detail ? " (" + body.detail + ")" : "");
  };
  var post = async function (path, payload) {
    var answer = await fetch(path + query, {
      method: "POST", headers: headers, credentials: "same-origin", body: JSON.stringify(payload)
    });
    return { ok: answer.ok, body: await answer.json() };
  };

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    if (!/^[0-9]{4}$/.test(pin.value)) { say(root.dataset.msgFormat, true); pin.focus(); return; }
    var kind = form.querySelector("input[name=kind]:checked").value;
    var copies = parseInt(document.getElementById("copies").value, 10);
    var tenderedText = document.getElementById("tendered").value.trim();
    submit.disabled = true;
    document.getElementById("kiosk-result").hidden = true;  // the previous certificate's result goes away
    say(root.dataset.msgWorking, false);
    try {
      var challenge = await post("/api/kiosk/terminal/challenge", { kind: kind, copies: copies });
      if (!challenge.ok) { say(problemText(challenge.body), true); return; }
      var certificate, signed;
      try {
        certificate = await (await fetch(root.dataset.reader + "/reader/certificate")).json();
        signed = await fetch(root.dataset.reader + "/reader/sign", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ challenge: challenge.body.challenge, pin: pin.value, kind: "auth" })
        });
      } catch (unreachable) { say(root.dataset.msgNoReader, true); return; }
      var signature = await signed.json();
      pin.value = "";
      if (!signed.ok) {
        if (signature.type && signature.type.endsWith("card-wrong-pin")) {
          say(root.dataset.msgWrongPin + signature.tries_left, true);
        } else if (signature.type && signature.type.endsWith("card-pin-locked")) {
          say(root.dataset.msgLocked, true);
        } else { say(problemText(signature), true); }
        pin.focus();
        return;
      }
      var issued = await post("/api/kiosk/terminal/issue", {
        request_key: challenge.body.request_key, signed_at: challenge.body.signed_at, kind: kind, copies: copies,
        options: {
          household: document.getElementById("opt-household").checked,
          my_number: document.getElementById("opt-my-number").checked,
          resident_code: document.getElementById("opt-resident-code").checked,
          honseki: document.getElementById("opt-honseki").checked
        },
        tendered: tenderedText === "" ? null : parseInt(tenderedText, 10),
        method: form.querySelector("input[name=method]:checked").value,
        certificate: certificate.certificate, signature: signature.signature
      });
      if (!issued.ok) { say(problemText(issued.body), true); return; }
      say(root.dataset.msgDone, false);
      document.getElementById("result-number").textContent = issued.body.number;
      document.getElementById("result-fee").textContent = "¥" + issued.body.charged;
      document.getElementById("result-change").textContent = "¥" + issued.body.change;
      document.getElementById("result-print").href = issued.body.print_url;
      document.getElementById("result-verify").href = issued.body.verify_url;
      document.getElementById("kiosk-result").hidden = false;
      document.getElementById("result-print").focus();
    } finally {
      submit.disabled = false;
    }
  });
})();
