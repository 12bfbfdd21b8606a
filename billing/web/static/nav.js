// Staff navigation and form errors (SPEC 10). Served by the platform: the Content-Security-Policy
// allows no inline script. Without JavaScript every menu's links stay shown and the server's own
// messages stand beside their fields.
//
// Menus follow the disclosure pattern: a button with aria-expanded and aria-controls opens its
// list of links; Escape closes it and returns focus to its button; a click elsewhere closes it.
// On a phone one "Menu" button shows or hides the groups.
document.documentElement.classList.add("js");

(function () {
  function toggles(root) {
    return Array.prototype.slice.call(root.querySelectorAll("button[data-disclosure]"));
  }

  function setOpen(button, open) {
    // The stylesheet shows or hides the list from aria-expanded (html.js only).
    button.setAttribute("aria-expanded", open ? "true" : "false");
  }

  function closeAll(except) {
    toggles(document).forEach(function (b) {
      if (b !== except && b.getAttribute("data-disclosure") === "group") setOpen(b, false);
    });
  }

  function setUp() {
    toggles(document).forEach(function (button) {
      setOpen(button, false);
      button.addEventListener("click", function () {
        var open = button.getAttribute("aria-expanded") !== "true";
        if (button.getAttribute("data-disclosure") === "group") closeAll(button);
        setOpen(button, open);
      });
    });

    document.addEventListener("keydown", function (event) {
      if (event.key !== "Escape") return;
      var open = toggles(document).filter(function (b) {
        return b.getAttribute("aria-expanded") === "true";
      });
      // The innermost open menu first: a group inside the phone's Menu.
      var group = open.filter(function (b) { return b.getAttribute("data-disclosure") === "group"; });
      var button = group.length ? group[0] : open[0];
      if (!button) return;
      setOpen(button, false);
      button.focus();
    });

    // A click or the focus elsewhere closes the open menu (it would cover the page).
    function leave(event) {
      var nav = document.getElementById("main-nav");
      if (nav && !nav.contains(event.target)) closeAll(null);
    }
    document.addEventListener("click", leave);
    document.addEventListener("focusin", leave);

    errorSummary();
  }

  // A form that failed: a summary at the top of the main content, one link per bad field, and the
  // focus moved to it.
  function errorSummary() {
    var main = document.getElementById("content");
    if (!main || document.getElementById("error-summary")) return;
    var errors = Array.prototype.slice.call(main.querySelectorAll(".field-error[role=alert]"));
    if (!errors.length) return;
    var summary = document.createElement("div");
    summary.className = "error-summary";
    summary.id = "error-summary";
    summary.setAttribute("role", "alert");
    summary.setAttribute("tabindex", "-1");
    summary.setAttribute("aria-labelledby", "error-summary-title");
    var title = document.createElement("h2");
    title.id = "error-summary-title";
    title.textContent = document.body.getAttribute("data-text-problem") || "There is a problem";
    summary.appendChild(title);
    var list = document.createElement("ul");
    errors.forEach(function (error) {
      var item = document.createElement("li");
      var control = fieldOf(error);
      var text = error.textContent.trim();
      var label = control ? labelOf(control) : "";
      if (label && text.indexOf(label) !== 0) text = label + ": " + text;
      if (control && control.id) {
        var link = document.createElement("a");
        link.href = "#" + control.id;
        link.textContent = text;
        link.addEventListener("click", function (event) {
          event.preventDefault();
          control.focus();
          control.scrollIntoView({ block: "center" });
        });
        item.appendChild(link);
      } else {
        item.textContent = text;
      }
      list.appendChild(item);
    });
    summary.appendChild(list);
    var after = main.querySelector(".flash");
    var last = null;
    main.querySelectorAll(".flash").forEach(function (f) { last = f; });
    if (after && last) last.insertAdjacentElement("afterend", summary);
    else main.insertBefore(summary, main.firstChild);
    summary.focus();
  }

  var CONTROLS = "input:not([type=hidden]), select, textarea";

  function fieldOf(error) {
    var label = error.closest("label");
    if (label) return label.control || label.querySelector(CONTROLS);
    var cell = error.closest("td, p, div, fieldset");
    var node = error.previousElementSibling;
    while (node) {
      if (node.matches(CONTROLS)) return node;
      var inner = node.querySelector && node.querySelector(CONTROLS);
      if (inner) return inner;
      node = node.previousElementSibling;
    }
    return cell ? cell.querySelector(CONTROLS) : null;
  }

  function labelOf(control) {
    var label = control.labels && control.labels[0];
    if (!label) return control.getAttribute("aria-label") || "";
    var text = label.querySelector(".label-text");
    return (text || label).textContent.trim();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
