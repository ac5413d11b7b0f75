// Self-service metric form: follow the chosen record set with the field suggestions and
// the open reference panel. The form works without this file.
(function () {
  "use strict";
  var select = document.getElementById("id_record_set");
  if (!select) return;
  select.addEventListener("change", function () {
    var set = select.value;
    document.querySelectorAll("input[data-field-role]").forEach(function (input) {
      input.setAttribute("list", "metric-" + set + "-" + input.dataset.fieldRole);
    });
    document.querySelectorAll("details.metric-reference").forEach(function (panel) {
      panel.open = panel.dataset.recordSet === set;
    });
  });
})();
