// Ask before a form with data-confirm="…" changes something that cannot be undone in one click
// (accept, cancel, terminate, release, revoke). Served by the platform: the Content-Security-Policy
// allows no inline script. Without JavaScript the form still works, as before.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!(form instanceof HTMLFormElement)) return;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
