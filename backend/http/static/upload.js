// Progressive enhancement of the upload form: the plain form works without JavaScript.
(() => {
  const form = document.getElementById("upload-form");
  const input = document.getElementById("file-input");
  const results = document.getElementById("results");
  if (!form || !input || !results) return;
  input.multiple = true;
  input.required = false;

  function upload(file) {
    const item = document.createElement("li");
    const name = document.createElement("span");
    name.textContent = file.name || "pasted image";
    const bar = document.createElement("progress");
    bar.max = file.size || 1;
    bar.value = 0;
    item.append(name, " ", bar);
    results.prepend(item);
    const body = new FormData();
    body.append("file", file, file.name || "pasted.png");
    body.append("expires", form.elements.expires.value);
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/upload");
    xhr.responseType = "json";
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; } };
    xhr.onload = () => {
      const answer = xhr.response || {};
      bar.value = bar.max;
      if (xhr.status === 201 || xhr.status === 200) {
        const link = document.createElement("input");
        link.readOnly = true;
        link.value = answer.url;
        const copy = document.createElement("button");
        copy.type = "button";
        copy.className = "button";
        copy.dataset.copy = answer.url;
        copy.textContent = "Copy link";
        item.append(link, copy);
      } else {
        const error = document.createElement("p");
        error.className = "warning";
        error.textContent = answer.error || `Upload failed (${xhr.status}).`;
        item.append(error);
      }
    };
    xhr.onerror = () => { item.append(" — the upload failed: network error."); };
    xhr.send(body);
  }

  input.addEventListener("change", () => { [...input.files].forEach(upload); input.value = ""; });
  form.addEventListener("submit", (e) => { e.preventDefault(); [...input.files].forEach(upload); });
  form.addEventListener("dragover", (e) => { e.preventDefault(); form.classList.add("over"); });
  form.addEventListener("dragleave", () => form.classList.remove("over"));
  form.addEventListener("drop", (e) => {
    e.preventDefault();
    form.classList.remove("over");
    [...e.dataTransfer.files].forEach(upload);
  });
  document.addEventListener("paste", (e) => {
    [...e.clipboardData.files].filter((f) => f.type.startsWith("image/")).forEach(upload);
  });
})();
