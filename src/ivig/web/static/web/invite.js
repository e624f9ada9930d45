// The invitation page (issue 16, item 17): "Copy the link" copies the link's text to the
// clipboard and says so; where the clipboard is not allowed (a page not served over https),
// the link is selected for the user to copy.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) {
    return;
  }
  const field = document.getElementById(button.dataset.copy);
  const status = document.querySelector(`[data-copied-for="${button.dataset.copy}"]`);
  if (!field) {
    return;
  }
  try {
    await navigator.clipboard.writeText(field.value);
    if (status) {
      status.textContent = "Copied. Paste it into a message to the patient.";
    }
  } catch {
    field.focus();
    field.select();
    if (status) {
      status.textContent = "The link is selected: copy it with Ctrl+C (or Cmd+C).";
    }
  }
});
