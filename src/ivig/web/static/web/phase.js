// ivig: the prescribe form shows only the fields of the chosen phase (issue 16 item 14).
// Without this script every field shows under its phase's heading; the server ignores the
// other phase's fields either way.
(() => {
  const show = (form) => {
    const phase = form.querySelector("select[name='phase']");
    if (!phase) {
      return;
    }
    for (const set of form.querySelectorAll("fieldset[data-phase]")) {
      set.hidden = set.dataset.phase !== phase.value;
    }
  };
  document.addEventListener("change", (event) => {
    const form = event.target.closest("form[data-phase-form]");
    if (form && event.target.name === "phase") {
      show(form);
    }
  });
  document.querySelectorAll("form[data-phase-form]").forEach(show);
})();
