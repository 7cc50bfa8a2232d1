// The console's only script: copy buttons. Everything works without it, except copying.

/**
 * Copy the text of the element a button points at (`data-copy="#id"`), and say so.
 * @param {HTMLButtonElement} button
 */
async function copyFrom(button) {
  const target = document.querySelector(button.dataset.copy ?? "");
  if (!target) return;
  const text = target.textContent ?? "";
  try {
    await navigator.clipboard.writeText(text);
    announce(button, "Copied");
  } catch {
    // No clipboard permission (or not a secure context): select the text for Ctrl+C.
    const range = document.createRange();
    range.selectNodeContents(target);
    const selection = window.getSelection();
    selection?.removeAllRanges();
    selection?.addRange(range);
    announce(button, "Press Ctrl+C");
  }
}

/**
 * @param {HTMLButtonElement} button
 * @param {string} message
 */
function announce(button, message) {
  liveRegion().textContent = message === "Copied" ? "Copied to the clipboard" : "Text selected: press Ctrl+C";
  const original = button.dataset.label ?? button.textContent ?? "Copy";
  button.dataset.label = original;
  button.textContent = message;
  button.classList.add("copied");
  window.setTimeout(() => {
    button.textContent = original;
    button.classList.remove("copied");
  }, 2000);
}

/** The polite live region that tells screen-reader users a copy happened. */
function liveRegion() {
  let region = document.getElementById("copy-status");
  if (!region) {
    region = document.createElement("div");
    region.id = "copy-status";
    region.className = "visually-hidden";
    region.setAttribute("role", "status");
    document.body.append(region);
  }
  return region;
}

document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("button[data-copy]") : null;
  if (button instanceof HTMLButtonElement) copyFrom(button);
});
