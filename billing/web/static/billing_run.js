// A billing run's page follows the run without a reload: while the run is queued or running it
// asks /finance/billing-runs/<id>/progress every 2 s and writes the numbers in place. The phase
// sits in an aria-live region and is only rewritten when it changes, so a screen reader hears
// "Issuing the drafts", not every count. Polling stops when the run has ended. Without
// JavaScript the page shows the state it was served with and a Refresh link.
(function () {
  var run = document.getElementById("run");
  if (!run || run.getAttribute("data-ended") === "true") return;
  var url = run.getAttribute("data-progress-url");
  var timer = null;

  // The page's words for what the script writes, in its language (data-text-* on #run).
  function said(key, english) {
    return run.getAttribute("data-text-" + key) || english;
  }

  function text(id, value) {
    var element = document.getElementById(id);
    if (element && element.textContent !== String(value)) element.textContent = String(value);
  }

  function list(id, items, render, empty) {
    var ul = document.getElementById(id);
    if (!ul) return;
    while (ul.firstChild) ul.removeChild(ul.firstChild);
    if (!items.length) {
      var none = document.createElement("li");
      none.className = "muted";
      none.textContent = empty;
      ul.appendChild(none);
      return;
    }
    items.forEach(function (item) { ul.appendChild(render(item)); });
  }

  function line(value, className) {
    var li = document.createElement("li");
    if (className) li.className = className;
    li.textContent = value;
    return li;
  }

  function show(p) {
    run.querySelectorAll("[data-field]").forEach(function (element) {
      var value = p[element.getAttribute("data-field")];
      if (value !== undefined && element.textContent !== String(value)) {
        element.textContent = String(value);
      }
    });
    var badge = document.getElementById("run-state");
    if (badge) badge.className = "badge " + p.state;
    text("run-phase", p.phase_text);
    var cancel = document.getElementById("run-cancel");
    if (cancel) cancel.hidden = !p.may_cancel;
    var resume = document.getElementById("run-resume");
    if (resume) resume.hidden = !p.may_resume;
    list("run-skipped", p.skipped, function (s) { return line(s); }, said("nothing-skipped", "Nothing skipped."));
    list("run-errors", p.errors, function (s) { return line(s, "field-error"); }, said("no-errors", "No errors."));
    if (!p.ended) return;
    text("run-totals", p.totals.length
      ? p.totals.map(function (t) { return t.text; }).join(" · ")
      : said("nothing-billed", "nothing billed"));
    list("run-invoice-links", p.invoices, function (inv) {
      var li = document.createElement("li");
      var a = document.createElement("a");
      a.href = inv.url;
      a.textContent = inv.label;
      li.appendChild(a);
      li.appendChild(document.createTextNode(
        " · " + inv.customer + " · " + inv.currency + " · " + (inv.status_text || inv.status)));
      return li;
    }, said("none", "None."));
    var refresh = document.getElementById("run-refresh");
    if (refresh) refresh.hidden = true;
    run.setAttribute("data-ended", "true");
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(response.status);
        return response.json();
      })
      .then(function (p) {
        show(p);
        if (!p.ended) timer = window.setTimeout(poll, 2000);
      })
      .catch(function () {
        // A failed poll (the network, a restart) tries again; the Refresh link still works.
        timer = window.setTimeout(poll, 2000);
      });
  }

  timer = window.setTimeout(poll, 2000);
  window.addEventListener("pagehide", function () { window.clearTimeout(timer); });
})();
