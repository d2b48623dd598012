// Reception terminal: read the card through the local reader, have it sign the clearing house's challenge,
// and show the answer. No inline script (the page's policy forbids it); messages come from data- attributes.
(function () {
  "use strict";
  var box = document.getElementById("reception");
  if (!box) { return; }
  var form = document.getElementById("reception-form");
  var pin = document.getElementById("pin");
  var submit = document.getElementById("check-submit");
  var status = document.getElementById("reception-status");
  var result = document.getElementById("result");
  var d = box.dataset;

  var say = function (text, isError) {
    status.textContent = text;
    status.className = isError ? "error" : "";
  };
  var problemText = function (body) {
    var title = document.documentElement.lang === "en" ? body.title : body.title_ja || body.title;
    return title + (body.detail ? " (" + body.detail + ")" : "");
  };
  var chosen = function (name) {
    var input = form.querySelector("input[name=" + name + "]:checked");
    return input ? input.value : "";
  };
  var fact = function (list, label, value) {
    var dt = document.createElement("dt");
    dt.textContent = label;
    var dd = document.createElement("dd");
    dd.textContent = value;
    list.appendChild(dt);
    list.appendChild(dd);
  };

  var show = function (answer, refused) {
    var verdict = document.getElementById("result-verdict");
    var facts = document.getElementById("result-facts");
    var records = document.getElementById("result-records");
    facts.textContent = "";
    records.textContent = "";
    if (refused) {
      verdict.textContent = d.msgRefused + ": " + problemText(answer);
      verdict.className = "verdict-not";
    } else if (answer.insured) {
      verdict.textContent = d.msgInsured;
      verdict.className = "verdict-insured";
      var q = answer.qualification;
      fact(facts, d.labelInsurer, answer.insurer.name);
      fact(facts, d.labelNumber, answer.insurer_number);
      fact(facts, d.labelCard, q.symbol + " ・ " + q.number + " （" + q.branch + "）");
      fact(facts, d.labelRatio, Math.round(answer.burden_ratio * 10) + "割 (" + answer.burden_ratio + ")");
      fact(facts, d.labelPeriod, q.valid_from + " – " + (q.valid_until || ""));
    } else {
      verdict.textContent = d.msgNotInsured + (answer.reason ? ": " + answer.reason : "");
      verdict.className = "verdict-not";
    }
    if (refused || !answer.consent_to_share) {
      var none = document.createElement("p");
      none.textContent = d.labelNoConsent;
      records.appendChild(none);
    } else if (!answer.records || answer.records.length === 0) {
      var empty = document.createElement("p");
      empty.textContent = d.labelNoRecords;
      records.appendChild(empty);
    } else {
      var list = document.createElement("ul");
      list.id = "records-list";
      answer.records.forEach(function (r) {
        var item = document.createElement("li");
        item.textContent = r.dispensed_on + " " + r.medicine + " " + r.dose + " ×" + r.days + " (" + r.pharmacy + ")";
        list.appendChild(item);
      });
      records.appendChild(list);
    }
    result.hidden = false;
    document.getElementById("result-title").focus();
  };

  var check = async function (event) {
    event.preventDefault();
    if (!/^[0-9]{4}$/.test(pin.value)) { say(d.msgFormat, true); pin.focus(); return; }
    submit.disabled = true;
    say(d.msgWorking, false);
    try {
      var headers = { "Content-Type": "application/json", "X-CSRF-Token": d.csrf };
      var issued = await fetch("/api/health/challenges", {
        method: "POST", headers: headers, credentials: "same-origin",
        body: JSON.stringify({ share_records: chosen("share") === "yes" })
      });
      var challenge = await issued.json();
      if (!issued.ok) { say(problemText(challenge), true); return; }
      var certificate, signed;
      try {
        certificate = await (await fetch(d.reader + "/reader/certificate")).json();
        signed = await fetch(d.reader + "/reader/sign", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ challenge: challenge.challenge, pin: pin.value, kind: "auth" })
        });
      } catch (unreachable) { say(d.msgNoReader, true); return; }
      var signature = await signed.json();
      pin.value = "";
      if (!signed.ok) {
        if (signature.type && signature.type.endsWith("card-wrong-pin")) {
          say(d.msgWrongPin + signature.tries_left, true);
        } else if (signature.type && signature.type.endsWith("card-pin-locked")) {
          say(d.msgLocked, true);
        } else { say(problemText(signature), true); }
        pin.focus();
        return;
      }
      var asked = await fetch("/api/health/eligibility", {
        method: "POST", headers: headers, credentials: "same-origin",
        body: JSON.stringify({
          challenge: challenge.challenge, certificate: certificate.certificate,
          signature: signature.signature, face_check: chosen("face")
        })
      });
      var answer = await asked.json();
      say("", false);
      show(answer, !asked.ok);
    } finally {
      submit.disabled = false;
    }
  };
  form.addEventListener("submit", check);
})();
