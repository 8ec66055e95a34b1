// Progressive enhancement only: every page works without this file.
(function () {
  "use strict";
  var exit = document.querySelector("[data-exit]");
  if (exit) {
    var leave = function () {
      // replace(): the page just left is not kept in the tab's history.
      window.location.replace(exit.getAttribute("href"));
    };
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" || event.key === "Esc") {
        event.preventDefault();
        leave();
      }
    });
    exit.addEventListener("click", function (event) {
      event.preventDefault();
      leave();
    });
  }
  // A form with data-busy shows that a long upload or export is under way.
  document.querySelectorAll("form[data-busy]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var status = form.querySelector("[data-busy-status]");
      if (status) { status.textContent = form.getAttribute("data-busy"); }
      var button = form.querySelector("button[type=submit]");
      if (button) { button.setAttribute("aria-disabled", "true"); }
    });
  });
}());
