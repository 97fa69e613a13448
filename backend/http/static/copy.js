// Copy buttons. <div class="copy-field"><textarea readonly>...</textarea><button data-copy>Copy</button>
// copies the field's current value; picdrop.copy(text, button) is there for other scripts.
(() => {
  "use strict";
  const announcer = document.getElementById("announce");

  // Each message is a new line of a log region: screen readers read additions in turn, so one
  // message never cuts off another (as replacing the text of a status region does). Old lines
  // go after a while; the region never grows long.
  const KEEP_MS = 20000;
  function announce(message) {
    if (!announcer) return;
    const line = document.createElement("p");
    line.textContent = message;
    announcer.append(line);
    window.setTimeout(() => line.remove(), KEEP_MS);
  }

  function legacyCopy(text) {
    // Clipboard API needs a secure context (https or localhost); plain http gets this fallback.
    const area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.append(area);
    area.select();
    let ok = false;
    try { ok = document.execCommand("copy"); } catch { ok = false; }
    area.remove();
    return ok;
  }

  async function copy(text, button) {
    let ok = false;
    if (navigator.clipboard && window.isSecureContext) {
      try { await navigator.clipboard.writeText(text); ok = true; } catch { ok = false; }
    }
    if (!ok) ok = legacyCopy(text);
    if (button) {
      if (!button.dataset.label) button.dataset.label = button.textContent;
      window.clearTimeout(Number(button.dataset.timer || 0));
      button.textContent = ok ? "Copied!" : "Press Ctrl+C";
      button.classList.toggle("copied", ok);
      button.dataset.timer = String(window.setTimeout(() => {
        button.textContent = button.dataset.label;
        button.classList.remove("copied");
      }, 1800));
    }
    announce(ok ? "Copied to the clipboard." : "Copying failed: select the text and press Ctrl+C.");
    return ok;
  }

  document.addEventListener("click", (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const field = button.closest(".copy-field");
    const input = field && field.querySelector("input, textarea");
    const text = button.dataset.copy || (input ? input.value : "");
    if (!text) return;
    if (input) input.select();
    copy(text, button);
  });

  // A click into a read-only link field selects all of it, ready for Ctrl+C.
  document.addEventListener("focusin", (event) => {
    const target = event.target;
    const field = target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement;
    if (field && target.readOnly) target.select();
  });

  window.picdrop = Object.assign(window.picdrop || {}, { copy, announce });
})();
