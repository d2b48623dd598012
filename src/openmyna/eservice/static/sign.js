// Signing an application with the card: the local reader gives the signing certificate (after the PIN),
// the server builds the CMS SignedData and returns the digest of its signed attributes, the reader signs
// that digest, the server puts the signature in, verifies it and submits. The PIN goes only to the reader.
(function () {
  "use strict";
  var box = document.getElementById("card-sign");
  if (!box) { return; }
  var pin = document.getElementById("sign-pin");
  var button = document.getElementById("sign-submit");
  var status = document.getElementById("sign-status");
  var reader = box.dataset.reader;
  var api = "/api/eservice/drafts/" + encodeURIComponent(box.dataset.draft);
  var headers = { "Content-Type": "application/json", "X-CSRF-Token": box.dataset.csrf };

  var say = function (text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  };
  var problemText = function (body) {
    var title = document.documentElement.lang === "en" ? body.title : body.title_ja || body.title;
    return title + (body.detail ? " (" + body.detail + ")" : "");
  };
  var readerFailed = function (body) {
    if (body.type && body.type.endsWith("card-wrong-pin")) {
      say(box.dataset.msgWrongPin + body.tries_left, true);
    } else if (body.type && body.type.endsWith("card-pin-locked")) {
      say(box.dataset.msgLocked, true);
    } else {
      say(problemText(body), true);
    }
    pin.focus();
  };
  var post = async function (url, body, extra) {
    var answer = await fetch(url, Object.assign({ method: "POST", body: JSON.stringify(body) }, extra));
    return { ok: answer.ok, body: await answer.json() };
  };

  var sign = async function () {
    var secret = pin.value.toUpperCase();
    if (!/^[A-Z0-9]{6,16}$/.test(secret)) {
      say(box.dataset.msgFormat, true);
      pin.focus();
      return;
    }
    button.disabled = true;
    say(box.dataset.msgWorking, false);
    try {
      var local = { headers: { "Content-Type": "application/json" } };
      var certificate, signed;
      try {
        certificate = await post(reader + "/reader/certificate", { kind: "sign", pin: secret }, local);
      } catch (unreachable) {
        say(box.dataset.msgNoReader, true);
        return;
      }
      if (!certificate.ok) { readerFailed(certificate.body); return; }
      var same = { headers: headers, credentials: "same-origin" };
      var prepared = await post(api + "/prepare", { certificate: certificate.body.certificate }, same);
      if (!prepared.ok) { say(problemText(prepared.body), true); return; }
      try {
        signed = await post(reader + "/reader/sign",
          { challenge: prepared.body.digest, pin: secret, kind: "sign", prehashed: true }, local);
      } catch (unreachable) {
        say(box.dataset.msgNoReader, true);
        return;
      }
      if (!signed.ok) { readerFailed(signed.body); return; }
      pin.value = "";
      var done = await post(api + "/submit", { signature: signed.body.signature }, same);
      if (!done.ok) { say(problemText(done.body), true); return; }
      window.location.assign("/eservice/applications/" + encodeURIComponent(done.body.application_id));
    } finally {
      secret = "";
      button.disabled = false;
    }
  };

  button.addEventListener("click", sign);
  pin.addEventListener("keydown", function (event) {
    if (event.key === "Enter") { event.preventDefault(); sign(); }
  });
})();
