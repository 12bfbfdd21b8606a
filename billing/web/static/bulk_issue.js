// A bulk issue's page follows its jobs without a reload: while it is not finished it fetches the
// page again every 2 s and writes the changed parts in place (the counts sit in an aria-live
// list, so a screen reader hears them change). Without JavaScript the page has a Refresh link.
(function () {
  var section = document.getElementById("bulk");
  if (!section || section.getAttribute("data-finished") === "true") return;
  var parts = ["bulk-state", "bulk-done", "bulk-issued", "bulk-left", "bulk-invoices"];

  function poll() {
    fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (!html) { setTimeout(poll, 5000); return; }
        var fresh = new DOMParser().parseFromString(html, "text/html");
        parts.forEach(function (id) {
          var here = document.getElementById(id);
          var there = fresh.getElementById(id);
          if (here && there && here.innerHTML !== there.innerHTML) here.innerHTML = there.innerHTML;
        });
        var next = fresh.getElementById("bulk");
        if (next && next.getAttribute("data-finished") === "true") {
          var refresh = document.getElementById("bulk-refresh");
          if (refresh) refresh.hidden = true;
          section.setAttribute("data-finished", "true");
          return;
        }
        setTimeout(poll, 2000);
      })
      .catch(function () { setTimeout(poll, 5000); });
  }

  setTimeout(poll, 2000);
})();
