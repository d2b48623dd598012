// Portal login page: the card on this computer (through the local card reader) and the QR code's wait.
// No inline script: the page's policy forbids it. Messages come from data- attributes (Japanese or English).
(function () {
  "use strict";

  // --- The card on this computer ---------------------------------------------------------------
  var card = document.getElementById("card-login");
  if (card) {
    var pin = document.getElementById("pin");
    var submit = document.getElementById("card-submit");
    var status = document.getElementById("card-status");
    var reader = card.dataset.reader;

    var say = function (text, isError) {
      status.textContent = text;
      status.className = isError ? "error" : "";
    };

    var problemText = function (body) {
      var title = document.documentElement.lang === "en" ? body.title : body.title_ja || body.title;
      return title + (body.detail ? " (" + body.detail + ")" : "");
    };

    var logIn = async function () {
      if (!/^[0-9]{4}$/.test(pin.value)) {
        say(card.dataset.msgFormat, true);
        pin.focus();
        return;
      }
      submit.disabled = true;
      say(card.dataset.msgWorking, false);
      try {
        var headers = { "Content-Type": "application/json", "X-CSRF-Token": card.dataset.csrf };
        var issued = await fetch("/api/portal/login/card/challenge?purpose=" + encodeURIComponent(card.dataset.purpose), {
          method: "POST", headers: headers, credentials: "same-origin"
        });
        var challenge = await issued.json();
        if (!issued.ok) { say(problemText(challenge), true); return; }
        var certificate, signed;
        try {
          certificate = await (await fetch(reader + "/reader/certificate")).json();
          signed = await fetch(reader + "/reader/sign", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ challenge: challenge.challenge, pin: pin.value, kind: "auth" })
          });
        } catch (unreachable) {
          say(card.dataset.msgNoReader, true);
          return;
        }
        var signature = await signed.json();
        pin.value = "";
        if (!signed.ok) {
          if (signature.type && signature.type.endsWith("card-wrong-pin")) {
            say(card.dataset.msgWrongPin + signature.tries_left, true);
          } else if (signature.type && signature.type.endsWith("card-pin-locked")) {
            say(card.dataset.msgLocked, true);
          } else {
            say(problemText(signature), true);
          }
          pin.focus();
          return;
        }
        var done = await fetch("/api/portal/login/card", {
          method: "POST", headers: headers, credentials: "same-origin",
          body: JSON.stringify({
            challenge: challenge.challenge, certificate: certificate.certificate,
            signature: signature.signature, next: card.dataset.next
          })
        });
        var result = await done.json();
        if (!done.ok) { say(problemText(result), true); return; }
        window.location.assign(result.next);
      } finally {
        submit.disabled = false;
      }
    };

    submit.addEventListener("click", logIn);
    pin.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); logIn(); }
    });
  }

  // --- The QR code: wait for the phone, then continue by itself ----------------------------------
  var qr = document.getElementById("qr-login");
  if (qr) {
    var qrStatus = document.getElementById("qr-status");
    var form = document.getElementById("qr-continue");
    var fresh = document.getElementById("qr-new");
    var stopped = false;
    var lastText = "";

    var show = function (text, isError) {
      if (text === lastText) { return; }
      lastText = text;
      qrStatus.textContent = text;
      qrStatus.className = isError ? "error" : "";
    };

    var stop = function (text) {
      stopped = true;
      show(text, true);
      form.hidden = true;
      fresh.hidden = false;
    };

    var poll = async function () {
      if (stopped) { return; }
      try {
        var answer = await fetch("/api/portal/login/qr/status", { credentials: "same-origin", cache: "no-store" });
        var state = await answer.json();
        if (!answer.ok) { stop(qr.dataset.msgUsed); return; }
        if (state.state === "signed") {
          stopped = true;
          show(qr.dataset.msgSigned, false);
          form.submit();
          return;
        }
        if (state.state === "expired") { stop(qr.dataset.msgExpired); return; }
        if (state.state === "done") { stop(qr.dataset.msgUsed); return; }
        if (state.state === "failed") { stop(qr.dataset.msgLocked); return; }
        if (state.failure === "wrong-pin") {
          show(qr.dataset.msgWrongPin + state.tries_left, true);
        } else {
          show(qr.dataset.msgWaiting, false);
        }
      } catch (network) {
        // keep waiting: a dropped poll is retried
      }
      window.setTimeout(poll, 400);
    };
    window.setTimeout(poll, 400);
  }
})();
