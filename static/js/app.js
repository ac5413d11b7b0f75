// Agent pages. Everything works without this file; it only smooths the edges.
(function () {
  "use strict";

  // A second click on a submit button would post the same (now stale) version again.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.matches("form[data-submit-once]")) return;
    if (form.dataset.submitted) {
      event.preventDefault();
      return;
    }
    form.dataset.submitted = "1";
  });

  // Type-ahead: when the search finds exactly one customer, choose it (and load its units).
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "id_customer") return;  // history restore has no target
    var options = target.querySelectorAll("option[value]:not([value=''])");
    if (options.length === 1) {
      target.value = options[0].value;
      target.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });

  // After htmx pushed a filtered queue URL, the language switch should come back to it,
  // and the export links should export what the queue now shows (all pages of it).
  document.addEventListener("htmx:pushedIntoHistory", function () {
    document.querySelectorAll(".lang-switch input[name=next]").forEach(function (input) {
      input.value = window.location.pathname + window.location.search;
    });
    document.querySelectorAll("a[data-export-format]").forEach(function (link) {
      var params = new URLSearchParams(window.location.search);
      params.delete("page");
      params.set("format", link.dataset.exportFormat);
      link.search = params.toString();
    });
  });
})();
