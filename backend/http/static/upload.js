// The upload page, enhanced: several files at once (picker, drag-and-drop, paste), per-file
// progress and cancel, links in several formats with Copy buttons, and "Your uploads": every
// upload's links and delete link kept in this browser's localStorage until the visitor removes
// them. Without JavaScript the same form posts to /upload and the server answers with a page of
// links.
(() => {
  "use strict";
  const form = document.getElementById("upload-form");
  const input = document.getElementById("file-input");
  const dropzone = document.getElementById("dropzone");
  const results = document.getElementById("results");
  const uploads = document.getElementById("uploads");
  const template = document.getElementById("item-template");
  const copyAll = document.getElementById("copy-all");
  const forgetAll = document.getElementById("forget-all");
  const urlForm = document.getElementById("url-form");
  const makeAlbum = document.getElementById("make-album");
  const albumPanel = document.getElementById("album");
  const embedTemplate = document.getElementById("embed-template");
  if (!form || !input || !dropzone || !results || !template) return;

  const PARALLEL = 3;
  const STORE = "picdrop.uploads";
  const ALBUMS = "picdrop.albums"; // the albums made here, with their delete tokens
  const KEPT = 200; // uploads remembered at most, newest first
  const MEDIUM = 640; // the longest side of the "medium" embed, in CSS pixels
  const maxBytes = Number(form.dataset.maxBytes) || Infinity;
  const tooLarge = form.dataset.tooLarge || "This file is too large.";
  const motion = window.matchMedia("(prefers-reduced-motion: reduce)").matches ? "auto" : "smooth";
  const queue = [];
  const items = new Set();
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
    let value = bytes;
    let unit = "";
    for (const u of ["KB", "MB", "GB"]) {
      value /= 1024;
      unit = u;
      if (value < 1024) break;
    }
    const shown = value >= 100 ? value.toFixed(0) : value.toFixed(1).replace(/\.0$/, "");
    return `${shown} ${unit}`;
  }

  // "deleted automatically in 7 days", as the server's pages say it.
  function formatExpiry(expiresAt) {
    if (!expiresAt) return "kept until deleted";
    const seconds = (Date.parse(expiresAt) - Date.now()) / 1000;
    for (const [unit, size] of [["day", 86400], ["hour", 3600], ["minute", 60]]) {
      const n = Math.round(seconds / size);
      if (n >= 1) return `deleted automatically in ${n} ${unit}${n === 1 ? "" : "s"}`;
    }
    return "deleted automatically in less than a minute";
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

  // Ready-made codes for forums and pages: the thumbnail, a medium size, the full image.
  function embedCodes(answer) {
    const alt = `Image ${answer.id}`;
    const page = answer.page_url;
    const thumb = answer.thumbnail_url;
    const scale = Math.min(1, MEDIUM / Math.max(answer.width, answer.height));
    const w = Math.round(answer.width * scale);
    const h = Math.round(answer.height * scale);
    return [
      ["Thumbnail, HTML", `<a href="${page}"><img src="${thumb}" alt="${alt}"></a>`],
      ["Thumbnail, Markdown", `[![${alt}](${thumb})](${page})`],
      ["Thumbnail, BBCode", `[url=${page}][img]${thumb}[/img][/url]`],
      [`Medium, ${w} × ${h}, HTML`, `<a href="${page}"><img src="${answer.url}" width="${w}" height="${h}" alt="${alt}"></a>`],
      [`Full size, ${answer.width} × ${answer.height}, HTML`, `<img src="${answer.url}" width="${answer.width}" height="${answer.height}" alt="${alt}">`],
    ];
  }

  function removedText(removed) {
    if (!Array.isArray(removed)) return ""; // remembered from before the server said
    if (!removed.length) return "No hidden metadata was found in this file.";
    return `Removed before publishing: ${removed.join(", ")}.`;
  }

  // -- this browser's list of uploads -------------------------------------------------------------
  function stored() {
    try {
      const list = JSON.parse(localStorage.getItem(STORE) || "[]");
      return Array.isArray(list) ? list : [];
    } catch { return []; }
  }

  function store(list) {
    try { localStorage.setItem(STORE, JSON.stringify(list.slice(0, KEPT))); } catch { /* full or private */ }
  }

  // The list as the page shows it, then what other tabs added meanwhile.
  function remember() {
    const shown = Array.from(items)
      .filter((item) => item.answer)
      .sort((a, b) => (a.node.compareDocumentPosition(b.node) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1))
      .map((item) => ({ name: item.name, answer: item.answer }));
    const ids = new Set(shown.map((e) => e.answer.id));
    store([...shown, ...stored().filter((e) => e && e.answer && !ids.has(e.answer.id))]);
  }

  function forget(id) {
    store(stored().filter((e) => e.answer.id !== id));
  }

  const expired = (answer) => answer.expires_at && Date.parse(answer.expires_at) <= Date.now();

  // -- one upload in the list ----------------------------------------------------------------------
  function part(item, selector) { return item.node.querySelector(selector); }

  function setStatus(item, text) { part(item, ".item-status").textContent = text; }

  function label(item, selector, text) { part(item, selector).setAttribute("aria-label", text); }

  function createItem(name, file) {
    const node = template.content.firstElementChild.cloneNode(true);
    const item = { node, file, key: randomKey(), name, answer: null, preview: null, xhr: null, saved: true };
    counter += 1;
    node.id = `upload-${counter}`;
    part(item, ".item-name").textContent = name;
    part(item, ".item-name").title = name;
    // Every control says which upload it belongs to: a screen reader lists many of them.
    label(item, "progress", `Upload progress of ${name}`);
    label(item, ".share-link", `Link to ${name}`);
    label(item, ".copy-link", `Copy the link to ${name}`);
    label(item, ".share", `Share the link to ${name}`);
    label(item, ".delete-link", `Delete link of ${name} (secret)`);
    label(item, ".copy-delete", `Copy the delete link of ${name}`);
    label(item, ".open-page", `Open the image page of ${name}`);
    label(item, ".retry", `Try again: ${name}`);
    part(item, ".formats legend").textContent = `Link format for ${name}`;
    setRemoveLabel(item, "Cancel");
    for (const radio of node.querySelectorAll(".formats input")) {
      radio.name = `format-${counter}`;
      radio.checked = radio.value === preferred;
      radio.addEventListener("change", () => choose(radio.value));
    }
    part(item, ".retry").addEventListener("click", () => {
      part(item, ".item-retry").hidden = true;
      node.focus(); // the button goes away: keep the keyboard here, not back at the page's top
      enqueue(item);
    });
    part(item, ".remove").addEventListener("click", () => remove(item));
    part(item, ".copy-delete").addEventListener("click", () => { item.saved = true; });
    part(item, ".delete-link").addEventListener("copy", () => { item.saved = true; });
    const share = part(item, ".share");
    if (navigator.share) {
      share.hidden = false;
      share.addEventListener("click", () => {
        navigator.share({ url: item.answer.page_url, title: `Image ${item.answer.id}` }).catch(() => {});
      });
    }
    items.add(item);
    uploads.hidden = false;
    return item;
  }

  function setRemoveLabel(item, text) {
    const button = part(item, ".remove");
    button.textContent = text;
    button.setAttribute("aria-label", `${text === "Cancel" ? "Cancel the upload of" : "Remove from this list:"} ${item.name}`);
  }

  function remove(item, quiet = false) {
    if (item.batch) { // a cancelled file leaves its batch
      const batch = item.batch;
      item.batch = null;
      batch.total -= 1;
      summarize(batch);
    }
    const index = queue.indexOf(item);
    if (index >= 0) queue.splice(index, 1);
    if (item.xhr) item.xhr.abort();
    if (item.answer) forget(item.answer.id);
    if (item.preview) URL.revokeObjectURL(item.preview);
    items.delete(item);
    // The keyboard goes on to the next upload, or to the page's own button when none is left.
    const next = item.node.nextElementSibling || item.node.previousElementSibling;
    item.node.remove();
    (next || document.getElementById("pick")).focus();
    if (!quiet) announce(item.answer ? `${item.name} removed from this list.` : `Upload of ${item.name} cancelled.`);
    refresh();
  }

  function refresh() {
    const done = results.querySelectorAll('.item[data-state="done"]').length;
    copyAll.hidden = done < 2;
    makeAlbum.hidden = done < 2;
    uploads.hidden = items.size === 0;
  }

  // One format for the whole page: "Copy all links" copies what every item shows.
  function choose(format) {
    preferred = format;
    try { localStorage.setItem("picdrop.format", preferred); } catch { /* ignore */ }
    for (const item of items) {
      for (const radio of item.node.querySelectorAll(".formats input")) radio.checked = radio.value === format;
      showLink(item);
    }
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
    part(item, ".share-link").value = shareText(preferred, item.answer);
  }

  function showDone(item, answer) {
    item.answer = answer;
    item.node.dataset.state = "done";
    const bar = part(item, "progress");
    bar.value = bar.max;
    setStatus(item, `Done · ${answer.width} × ${answer.height} · ${formatSize(answer.size)} · ${formatExpiry(answer.expires_at)}`);
    setRemoveLabel(item, "Remove");
    showLink(item);
    part(item, ".delete-link").value = answer.delete_url;
    part(item, ".open-page").href = answer.page_url;
    part(item, ".item-share").hidden = false;
    part(item, ".keep").hidden = false;
    const removed = part(item, ".item-removed");
    removed.textContent = removedText(answer.removed_metadata);
    removed.hidden = !removed.textContent;
    showMore(item, answer);
    showThumb(item, answer.thumbnail_url, false);
    refresh();
  }

  // The QR code and the embed codes, behind a disclosure (the QR code loads when it opens).
  function showMore(item, answer) {
    const more = part(item, ".more");
    const list = part(item, ".embeds");
    list.replaceChildren(...embedCodes(answer).map(([name, code]) => {
      const row = embedTemplate.content.firstElementChild.cloneNode(true);
      row.querySelector(".embed-name").textContent = name;
      row.querySelector(".embed-code").value = code;
      row.querySelector(".embed-code").setAttribute("aria-label", `${name} embed code for ${item.name}`);
      row.querySelector("[data-copy]").setAttribute("aria-label", `Copy the ${name} embed code for ${item.name}`);
      return row;
    }));
    const qr = part(item, ".qr");
    qr.alt = `QR code of the link to ${item.name}`;
    part(item, ".more summary").setAttribute("aria-label", `QR code and embed codes for ${item.name}`);
    more.addEventListener("toggle", () => {
      if (more.open && !qr.getAttribute("src")) qr.src = `/qr/${encodeURIComponent(answer.id)}.svg`;
    });
    more.hidden = false;
  }

  function succeed(item, answer) {
    showDone(item, answer);
    item.saved = false; // until its delete link is copied
    remember();
    settle(item, true);
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
    setRemoveLabel(item, "Remove");
    announce(`${item.name} was not uploaded: ${message}`);
    settle(item, false);
  }

  // One summary per batch of files ("3 of 4 uploaded"), not one message per file.
  function settle(item, ok) {
    const batch = item.batch;
    if (!batch) {
      if (ok) announce(`${item.name} uploaded. The link is ready to copy.`);
      return;
    }
    item.batch = null;
    batch.settled += 1;
    batch.ok += ok ? 1 : 0;
    batch.last = ok ? item.name : null;
    if (ok && batch.ok === 1) item.node.scrollIntoView({ block: "nearest", behavior: motion });
    summarize(batch);
  }

  function summarize(batch) {
    if (!batch.total || batch.settled < batch.total) return;
    if (batch.total > 1) {
      announce(`${batch.ok} of ${batch.total} uploaded.${batch.ok ? " The links are ready to copy." : ""}`);
    } else if (batch.last) {
      announce(`${batch.last} uploaded. The link is ready to copy.`);
    }
  }

  function send(item) {
    active += 1;
    item.node.dataset.state = "uploading";
    part(item, ".item-error").hidden = true;
    setRemoveLabel(item, "Cancel");
    const bar = part(item, "progress");
    bar.removeAttribute("value"); // indeterminate until the first progress event
    setStatus(item, "Uploading…");
    const xhr = new XMLHttpRequest();
    item.xhr = xhr;
    xhr.open("POST", "/api/upload");
    xhr.responseType = "json";
    xhr.setRequestHeader("Accept", "application/json");
    let body;
    if (item.url) { // the server fetches it
      body = JSON.stringify({ url: item.url, expires: form.elements.expires.value });
      xhr.setRequestHeader("Content-Type", "application/json");
      setStatus(item, "Fetching…");
    } else {
      body = new FormData();
      body.append("expires", form.elements.expires.value);
      body.append("file", item.file, item.file.name || "pasted.png");
    }
    // The same key on every try of this file: a retry never makes a duplicate.
    xhr.setRequestHeader("Idempotency-Key", item.key);
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      if (!item.file) return;
      const percent = Math.floor((e.loaded / e.total) * 100);
      setStatus(item, `Uploading… ${percent}% of ${formatSize(item.file.size)}`);
    });
    xhr.upload.addEventListener("load", () => {
      if (!item.file) return; // still fetching
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
      item.xhr = null;
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
    announce(list.length === 1 ? "Uploading 1 file." : `Uploading ${list.length} files.`);
    const batch = { total: list.length, settled: 0, ok: 0, last: null };
    const added = list.map((file) => {
      const item = createItem(file.name || "pasted image", file);
      item.batch = batch;
      if (file.type.startsWith("image/")) showThumb(item, URL.createObjectURL(file), true);
      return item;
    });
    // Newest on top, in the order given.
    results.prepend(...added.map((item) => item.node));
    added[0].node.scrollIntoView({ block: "nearest", behavior: motion });
    for (const item of added) {
      if (item.file.size > maxBytes) fail(item, tooLarge, false);
      else enqueue(item);
    }
  }

  // An image on the web: the server fetches it (the name shown is the address's last part).
  function addUrl(address) {
    let name = address;
    try {
      const parsed = new URL(address);
      name = decodeURIComponent(parsed.pathname.split("/").pop() || "") || parsed.hostname;
    } catch { /* the server says what is wrong with it */ }
    announce(`Fetching ${name}.`);
    const item = createItem(name, null);
    item.url = address;
    results.prepend(item.node);
    item.node.scrollIntoView({ block: "nearest", behavior: motion });
    enqueue(item);
  }

  // The uploads of earlier visits, as they were left (expired ones are dropped).
  function restore() {
    const kept = stored().filter((e) => e && e.answer && e.answer.id && !expired(e.answer));
    store(kept);
    for (const entry of kept) {
      const item = createItem(entry.name || `Image ${entry.answer.id}`, null);
      results.append(item.node);
      showDone(item, entry.answer);
    }
  }

  // -- ways in ------------------------------------------------------------------------------------
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

  if (urlForm) {
    urlForm.addEventListener("submit", (event) => {
      event.preventDefault();
      const field = urlForm.elements.url;
      const address = field.value.trim();
      if (!address) return;
      addUrl(address);
      field.value = "";
    });
  }

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

  // One link for every finished upload in the list, top to bottom.
  makeAlbum.addEventListener("click", () => {
    const done = Array.from(items)
      .filter((item) => item.answer && item.node.dataset.state === "done")
      .sort((a, b) => (a.node.compareDocumentPosition(b.node) & Node.DOCUMENT_POSITION_FOLLOWING ? -1 : 1));
    const images = done.map((item) => ({ id: item.answer.id, delete_token: item.answer.delete_token }));
    makeAlbum.disabled = true;
    fetch("/api/albums", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ images }),
    })
      .then((response) => response.json().then((answer) => ({ ok: response.ok, answer })))
      .then(({ ok, answer }) => {
        if (!ok || !answer.url) throw new Error(answer.error || "The album could not be made.");
        try {
          const kept = JSON.parse(localStorage.getItem(ALBUMS) || "[]");
          kept.unshift({ id: answer.id, url: answer.url, delete_token: answer.delete_token, delete_url: answer.delete_url });
          localStorage.setItem(ALBUMS, JSON.stringify(kept.slice(0, KEPT)));
        } catch { /* full or private */ }
        document.getElementById("album-link").value = answer.url;
        document.getElementById("album-delete-link").value = answer.delete_url;
        document.getElementById("album-open").href = answer.url;
        albumPanel.hidden = false;
        announce(`Album of ${answer.images.length} images made. The link is ready to copy.`);
      })
      .catch((error) => announce(error.message || "The album could not be made."))
      .finally(() => { makeAlbum.disabled = false; });
  });

  forgetAll.addEventListener("click", () => {
    const question = "Forget every upload in this list? Their delete links are kept nowhere else.";
    if (!window.confirm(question)) return;
    for (const item of Array.from(items)) remove(item, true);
    store([]);
    announce("This browser has forgotten your uploads.");
  });

  // A delete link not copied yet, or an upload still on its way: ask before the page goes away.
  const unfinished = (item) => (item.answer && !item.saved) || ["queued", "uploading"].includes(item.node.dataset.state);
  window.addEventListener("beforeunload", (event) => {
    if (!Array.from(items).some(unfinished)) return;
    event.preventDefault();
    event.returnValue = "";
  });

  restore();
  refresh();
})();
