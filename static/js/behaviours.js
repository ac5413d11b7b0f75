// Behaviours declared in the markup, so that no template needs an inline handler (the
// Content-Security-Policy runs none): data-confirm, data-autosubmit, data-copy-target.
(function () {
  "use strict";

  // <form data-confirm="Question?">: posted only when the user agrees. Capture phase, so a
  // refused submit reaches no other handler (data-submit-once would mark the form as sent).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.confirm) return;
    if (!window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      event.stopPropagation();
    }
  }, true);

  // <select data-autosubmit>, <input data-autosubmit>: a change submits the field's form.
  document.addEventListener("change", function (event) {
    var field = event.target;
    if (!(field instanceof Element) || !field.matches("[data-autosubmit]") || !field.form) return;
    if (field.form.requestSubmit) field.form.requestSubmit();
    else field.form.submit();
  });

  // <button data-copy-target="id" data-copied-label="Copied">: copies the field's text.
  // Delegated, so buttons that htmx swaps in later work too.
  document.addEventListener("click", function (event) {
    var button = event.target instanceof Element ? event.target.closest("[data-copy-target]") : null;
    if (!button) return;
    var field = document.getElementById(button.dataset.copyTarget);
    if (!field) return;
    var done = function () {
      var label = button.querySelector("span");
      if (label) label.textContent = button.dataset.copiedLabel;
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done);
    } else {
      field.select();
      document.execCommand("copy");
      done();
    }
  });
})();
