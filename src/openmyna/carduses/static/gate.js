// Gate or venue door: read the certificate (and, at a gate, the employer's application) from the card, have the
// card sign the challenge, and show whether the gate opens. No inline script; URLs and messages come from
// data- attributes: data-challenge-url, data-enter-url, data-challenge-body (JSON), data-app (a gate's
// application name, if any) and data-shown (the answer's field shown on admission).
(function () {
  "use strict";
  var box = document.getElementById("gate");
  if (!box) { return; }
  var d = box.dataset;
  var form = document.getElementById("gate-form");
  var pin = document.getElementById("pin");
  var submit = document.getElementById("gate-submit");
  var status = document.getElementById("gate-status");
  var verdict = document.getElementById("gate-verdict");
  var say = function (text, isError) { status.textContent = text; status.className = isError ? "error" : ""; };
  var problemText = function (body) {
    var title = document.documentElement.lang === "en" ? body.title : body.title_ja || body.title;
    return title + (body.detail ? " (" + body.detail + ")" : "");
  };

  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    verdict.textContent = "";
    if (!/^[0-9]{4}$/.test(pin.value)) { say(d.msgFormat, true); pin.focus(); return; }
    submit.disabled = true;
    say(d.msgWorking, false);
    try {
      var headers = { "Content-Type": "application/json", "X-CSRF-Token": d.csrf };
      var issued = await fetch(d.challengeUrl, {
        method: "POST", headers: headers, credentials: "same-origin", body: d.challengeBody || null
      });
      var challenge = await issued.json();
      if (!issued.ok) { say(problemText(challenge), true); return; }
      var certificate, app, signed;
      try {
        certificate = await (await fetch(d.reader + "/reader/certificate")).json();
        if (d.app) {
          var appRead = await fetch(d.reader + "/reader/apps/" + encodeURIComponent(d.app));
          app = appRead.ok ? await appRead.json() : {};
        }
        signed = await fetch(d.reader + "/reader/sign", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ challenge: challenge.challenge, pin: pin.value, kind: "auth" })
        });
      } catch (unreachable) { say(d.msgNoReader, true); return; }
      var signature = await signed.json();
      pin.value = "";
      if (!signed.ok) {
        say(signature.tries_left !== undefined ? d.msgWrongPin + signature.tries_left : problemText(signature), true);
        return;
      }
      var read = { challenge: challenge.challenge, certificate: certificate.certificate, signature: signature.signature };
      if (d.app) { read.app = app; }
      var asked = await fetch(d.enterUrl, {
        method: "POST", headers: headers, credentials: "same-origin", body: JSON.stringify(read)
      });
      var answer = await asked.json();
      say("", false);
      if (asked.ok && answer.admitted) {
        verdict.textContent = d.msgAdmitted + " (" + answer[d.shown] + ")";
        verdict.className = "open";
      } else {
        verdict.textContent = d.msgRefused + ": " + problemText(answer);
        verdict.className = "shut";
      }
    } finally {
      submit.disabled = false;
    }
  });
})();
