// Copy buttons. <div class="copy-field"><input readonly value="..."><button data-copy>Copy</button>
// copies the field's current value; picdrop.copy(text, button) is there for other scripts.
(() => {
  "use strict";
  const announcer = document.getElementById("announce");

  function announce(message) {
    if (!announcer) return;
    announcer.textContent = "";
    // A fresh text node makes screen readers speak the same message twice in a row, too.
    window.setTimeout(() => { announcer.textContent = message; }, 30);
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
    if (target instanceof HTMLInputElement && target.readOnly) target.select();
  });

  window.picdrop = Object.assign(window.picdrop || {}, { copy, announce });
})();
