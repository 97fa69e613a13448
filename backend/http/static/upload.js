// The upload page, enhanced: several files at once (picker, drag-and-drop, paste), per-file
// progress, links in several formats with Copy buttons. Without JavaScript the same form posts
// to /upload and the server answers with a page of links.
(() => {
  "use strict";
  const form = document.getElementById("upload-form");
  const input = document.getElementById("file-input");
  const dropzone = document.getElementById("dropzone");
  const results = document.getElementById("results");
  const uploads = document.getElementById("uploads");
  const template = document.getElementById("item-template");
  const copyAll = document.getElementById("copy-all");
  if (!form || !input || !dropzone || !results || !template) return;

  const PARALLEL = 3;
  const maxBytes = Number(form.dataset.maxBytes) || Infinity;
  const tooLarge = form.dataset.tooLarge || "This file is too large.";
  const queue = [];
  let active = 0;
  let counter = 0;
  let preferred = "link";
  try { preferred = localStorage.getItem("picdrop.format") || "link"; } catch { /* private mode */ }

  input.multiple = true;
  input.required = false;
  input.tabIndex = -1; // keyboard users get the "Upload images" button instead

  const announce = (text) => window.picdrop && window.picdrop.announce(text);

  function formatSize(bytes) {
    if (bytes < 1024) return `${bytes} bytes`;
    const units = ["KB", "MB", "GB"];
    let value = bytes;
    let unit = "";
    for (const u of units) {
      value /= 1024;
      unit = u;
      if (value < 1024) break;
    }
    return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${unit}`;
  }

  function randomKey() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function shareText(format, answer) {
    const alt = `Image ${answer.id}`;
    switch (format) {
      case "markdown": return `[![${alt}](${answer.url})](${answer.page_url})`;
      case "html": return `<a href="${answer.page_url}"><img src="${answer.url}" alt="${alt}"></a>`;
      case "bbcode": return `[url=${answer.page_url}][img]${answer.url}[/img][/url]`;
      default: return answer.url;
    }
  }

  function part(item, selector) { return item.node.querySelector(selector); }

  function setStatus(item, text) { part(item, ".item-status").textContent = text; }

  function createItem(file) {
    const node = template.content.firstElementChild.cloneNode(true);
    const item = {
      node,
      file,
      key: randomKey(),
      name: file.name || "pasted image",
      answer: null,
      preview: null,
    };
    counter += 1;
    node.id = `upload-${counter}`;
    part(item, ".item-name").textContent = item.name;
    part(item, ".item-name").title = item.name;
    part(item, "progress").setAttribute("aria-label", `Upload progress of ${item.name}`);
    for (const radio of node.querySelectorAll(".formats input")) {
      radio.name = `format-${counter}`;
      radio.checked = radio.value === preferred;
      radio.addEventListener("change", () => {
        preferred = radio.value;
        try { localStorage.setItem("picdrop.format", preferred); } catch { /* ignore */ }
        showLink(item);
      });
    }
    part(item, ".retry").addEventListener("click", () => {
      part(item, ".item-retry").hidden = true;
      enqueue(item);
    });
    if (file.type.startsWith("image/")) showThumb(item, URL.createObjectURL(file), true);
    uploads.hidden = false;
    results.prepend(node);
    return item;
  }

  function showThumb(item, src, isPreview) {
    const img = part(item, ".item-thumb");
    img.onload = () => {
      img.hidden = false;
      part(item, ".item-placeholder").setAttribute("hidden", ""); // an SVG element: no .hidden
      if (!isPreview && item.preview) {
        URL.revokeObjectURL(item.preview);
        item.preview = null;
      }
    };
    img.onerror = () => {
      if (isPreview) {
        img.hidden = true;
        part(item, ".item-placeholder").removeAttribute("hidden");
      }
    };
    if (isPreview) item.preview = src;
    img.src = src;
  }

  function showLink(item) {
    if (!item.answer) return;
    const checked = item.node.querySelector(".formats input:checked");
    part(item, ".share-link").value = shareText(checked ? checked.value : "link", item.answer);
  }

  function succeed(item, answer) {
    item.answer = answer;
    item.node.dataset.state = "done";
    const bar = part(item, "progress");
    bar.value = bar.max;
    setStatus(item, `Done · ${answer.width} × ${answer.height} · ${formatSize(answer.size)}`);
    showLink(item);
    part(item, ".delete-link").value = answer.delete_url;
    part(item, ".open-page").href = answer.page_url;
    part(item, ".item-share").hidden = false;
    part(item, ".keep").hidden = false;
    showThumb(item, answer.thumbnail_url, false);
    const done = results.querySelectorAll('.item[data-state="done"]').length;
    copyAll.hidden = done < 2;
    announce(`${item.name} uploaded. The link is ready to copy.`);
  }

  function fail(item, message, canRetry) {
    item.node.dataset.state = "error";
    const bar = part(item, "progress");
    bar.value = bar.max;
    setStatus(item, "Not uploaded");
    const error = part(item, ".item-error");
    error.textContent = message;
    error.hidden = false;
    part(item, ".item-retry").hidden = !canRetry;
    announce(`${item.name} was not uploaded: ${message}`);
  }

  function send(item) {
    active += 1;
    item.node.dataset.state = "uploading";
    part(item, ".item-error").hidden = true;
    const bar = part(item, "progress");
    bar.removeAttribute("value"); // indeterminate until the first progress event
    setStatus(item, "Uploading…");
    const body = new FormData();
    body.append("expires", form.elements.expires.value);
    body.append("file", item.file, item.file.name || "pasted.png");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/upload");
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");
    // The same key on every try of this file: a retry never makes a duplicate.
    xhr.setRequestHeader("Idempotency-Key", item.key);
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      const percent = Math.floor((e.loaded / e.total) * 100);
      setStatus(item, `Uploading… ${percent}% of ${formatSize(item.file.size)}`);
    });
    xhr.upload.addEventListener("load", () => {
      bar.value = bar.max;
      setStatus(item, "Processing…");
    });
    xhr.addEventListener("load", () => {
      const answer = xhr.response && typeof xhr.response === "object" ? xhr.response : {};
      if ((xhr.status === 201 || xhr.status === 200) && answer.url) {
        succeed(item, answer);
      } else {
        const retryable = xhr.status >= 500 || xhr.status === 429 || xhr.status === 0;
        fail(item, answer.error || `The server could not take this file (HTTP ${xhr.status}).`, retryable);
      }
    });
    xhr.addEventListener("error", () => {
      fail(item, "The connection to the server was lost. Check your connection and try again.", true);
    });
    xhr.addEventListener("loadend", () => {
      active -= 1;
      pump();
    });
    xhr.send(body);
  }

  function enqueue(item) {
    item.node.dataset.state = "queued";
    setStatus(item, "Waiting…");
    queue.push(item);
    pump();
  }

  function pump() {
    while (active < PARALLEL && queue.length) send(queue.shift());
  }

  function addFiles(files) {
    const list = Array.from(files || []);
    if (!list.length) return;
    // Created last to first, so that the first file ends up on top (each one is prepended).
    const items = [];
    for (let i = list.length - 1; i >= 0; i -= 1) items.unshift(createItem(list[i]));
    for (const item of items) {
      if (item.file.size > maxBytes) fail(item, tooLarge, false);
      else enqueue(item);
    }
    announce(list.length === 1 ? "Uploading 1 file." : `Uploading ${list.length} files.`);
  }

  // -- ways in ----------------------------------------------------------------------------------
  dropzone.addEventListener("click", (event) => {
    if (event.target.closest("a, select, input")) return;
    input.click();
  });
  input.addEventListener("change", () => {
    addFiles(input.files);
    input.value = "";
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    addFiles(input.files);
    input.value = "";
  });

  let dragDepth = 0;
  const hasFiles = (event) => Array.from(event.dataTransfer ? event.dataTransfer.types : []).includes("Files");
  document.addEventListener("dragenter", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    dragDepth += 1;
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragover", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault();
    event.dataTransfer.dropEffect = "copy";
  });
  document.addEventListener("dragleave", () => {
    dragDepth = Math.max(0, dragDepth - 1);
    if (!dragDepth) document.body.classList.remove("dragging");
  });
  document.addEventListener("drop", (event) => {
    if (!hasFiles(event)) return;
    event.preventDefault(); // a file dropped beside the zone must not navigate away
    dragDepth = 0;
    document.body.classList.remove("dragging");
    addFiles(event.dataTransfer.files);
  });

  document.addEventListener("paste", (event) => {
    const data = event.clipboardData;
    if (!data) return;
    const files = Array.from(data.files || []).filter((f) => f.type.startsWith("image/"));
    if (!files.length) return;
    event.preventDefault();
    addFiles(files);
  });

  copyAll.addEventListener("click", () => {
    // Top to bottom, as the page shows them.
    const lines = Array.from(results.querySelectorAll('.item[data-state="done"] .share-link'))
      .map((field) => field.value);
    if (lines.length && window.picdrop) window.picdrop.copy(lines.join("\n"), copyAll);
  });
})();
