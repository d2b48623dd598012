// Application form: the browser checks the HTML constraints generated from the procedure's JSON Schema
// (the server checks the same schema again) and shows each message next to its field. No inline script.
(function () {
  "use strict";
  var form = document.getElementById("apply-form");
  if (!form) { return; }

  var show = function (field) {
    var box = document.getElementById(field.id + "-error");
    if (!box) { return; }
    if (field.validity.valid) {
      box.hidden = true;
      box.textContent = "";
      field.removeAttribute("aria-invalid");
    } else {
      box.hidden = false;
      box.textContent = field.validationMessage;
      field.setAttribute("aria-invalid", "true");
    }
  };

  var fields = form.querySelectorAll("input, select, textarea");
  fields.forEach(function (field) {
    field.addEventListener("blur", function () { if (field.value !== "" || field.required) { show(field); } });
    field.addEventListener("input", function () { if (field.getAttribute("aria-invalid")) { show(field); } });
  });

  form.addEventListener("submit", function (event) {
    if (event.submitter && event.submitter.value === "save") { return; }  // a draft may be incomplete
    var first = null;
    fields.forEach(function (field) {
      if (!field.willValidate) { return; }
      show(field);
      if (!field.validity.valid && first === null) { first = field; }
    });
    if (first !== null) {
      event.preventDefault();
      first.focus();
    }
  });

  var summary = document.getElementById("form-errors");
  if (summary) { summary.focus(); }
})();
