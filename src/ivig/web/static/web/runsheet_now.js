/* The run sheet's "now" bar (issue 16 item 13): a button jumps to its form below the sticky
   bar (not under it) and puts the cursor in the form's first field. Delegated on the document,
   so it keeps working after htmx swaps the sheet. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[data-now-jump]");
    if (!link) { return; }
    var form = document.querySelector(link.getAttribute("href"));
    if (!form) { return; }
    event.preventDefault();
    var bar = document.getElementById("now-bar");
    var offset = bar ? bar.getBoundingClientRect().height + 8 : 0;
    var top = form.getBoundingClientRect().top + window.scrollY - offset;
    window.scrollTo({ top: Math.max(top, 0), behavior: "auto" });
    document.querySelectorAll(".now-target").forEach(function (el) { el.classList.remove("now-target"); });
    form.classList.add("now-target");
    var field = form.querySelector("input:not([type=hidden]):not([disabled]), select, textarea");
    if (field) { field.focus({ preventScroll: true }); }
  });
})();
