// paperlens web page: plain ES module, no build step, talks to the /v1 REST API.
//
// Images (crops, page renders) are fetched with fetch() and shown through blob: URLs, because an <img src>
// cannot send the API key header. The answer stream is read with fetch() + a ReadableStream because
// EventSource can neither POST a body nor send headers.

const KEY_STORAGE = "paperlens.apiKey";
const PAGE_DPI = 110; // page renders: sharp enough to read, small enough to load quickly
const POLL_MS = 400;
const VISUAL_KINDS = new Set(["figure", "table", "formula"]);

const $ = (id) => document.getElementById(id);

const state = {
  documents: new Map(), // id -> {id, title, pages, status, counts}
  images: new Map(), // url -> Promise<blob URL>
  imageSearch: false,
  askAbort: null,
  viewer: null, // {documentId, page, pages, bbox, title, quote, opener}
};

// ---------------------------------------------------------------- API

class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function apiKey() {
  return sessionStorage.getItem(KEY_STORAGE) || "";
}

function authHeaders(extra = {}) {
  const key = apiKey();
  return key ? { ...extra, Authorization: `Bearer ${key}` } : extra;
}

async function errorFrom(response) {
  let code = `http_${response.status}`;
  let message = response.statusText || `HTTP ${response.status}`;
  try {
    const body = await response.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
    } else if (body && body.detail) {
      message = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
    }
  } catch {
    /* not JSON: keep the status text */
  }
  return new ApiError(response.status, code, message);
}

async function api(path, { method = "GET", json, form, signal, accept } = {}) {
  const headers = authHeaders(accept ? { Accept: accept } : {});
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let response;
  try {
    response = await fetch(path, { method, headers, body, signal });
  } catch (err) {
    if (err.name === "AbortError") throw err;
    throw new ApiError(0, "network", `Cannot reach the server (${err.message}).`);
  }
  if (!response.ok) {
    const error = await errorFrom(response);
    if (response.status === 401) needKey(error.message);
    throw error;
  }
  return response;
}

async function apiJson(path, options) {
  const response = await api(path, options);
  return response.status === 204 ? null : response.json();
}

// Fetch an image with the API key and hand back {src: blob URL, pageWidth, pageHeight}, cached per URL for
// the page's lifetime. Page renders carry their size in PDF points (X-Page-Width/Height), which is what
// bboxes are measured in; crops do not (null).
function loadImage(url) {
  if (!state.images.has(url)) {
    const promise = api(url).then(async (r) => {
      const size = (name) => {
        const v = parseFloat(r.headers.get(name) || "");
        return Number.isFinite(v) && v > 0 ? v : null;
      };
      const blob = await r.blob();
      return { src: URL.createObjectURL(blob), pageWidth: size("X-Page-Width"), pageHeight: size("X-Page-Height") };
    });
    promise.catch(() => state.images.delete(url));
    state.images.set(url, promise);
  }
  return state.images.get(url);
}

function forgetImages() {
  for (const promise of state.images.values()) {
    promise.then((image) => URL.revokeObjectURL(image.src)).catch(() => {});
  }
  state.images.clear();
}

// ---------------------------------------------------------------- small DOM helpers

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function showAlert(message) {
  const box = $("alert");
  box.textContent = message;
  box.hidden = !message;
}

function reportError(err, what) {
  if (err && err.name === "AbortError") return;
  const code = err && err.code ? ` [${err.code}]` : "";
  showAlert(`${what}: ${err && err.message ? err.message : err}${code}`);
}

function announce(message) {
  $("announcer").textContent = message;
}

function needKey(message) {
  $("key-note").textContent = `The server wants an API key: ${message || "401 Unauthorized"}`;
  $("key-note").classList.add("warn");
}

function docTitle(id) {
  const doc = state.documents.get(id);
  return doc ? doc.title || doc.filename || id.slice(0, 12) : id.slice(0, 12);
}

function kindBadge(kind) {
  return el("span", { class: `kind kind-${kind}` }, kind);
}

// A crop thumbnail; with onOpen it is also a button that shows the crop on its page.
function thumbnail(url, alt, onOpen) {
  const img = el("img", { class: "thumb", alt, decoding: "async" });
  loadImage(url)
    .then((image) => {
      img.src = image.src;
    })
    .catch(() => {
      img.replaceWith(el("span", { class: "note" }, "(image unavailable)"));
    });
  if (!onOpen) return img;
  return el(
    "button",
    { type: "button", class: "thumb-button", title: "Show on the page", onclick: (e) => onOpen(e.currentTarget) },
    img,
  );
}

function truncate(text, n) {
  const t = (text || "").replace(/\s+/g, " ").trim();
  return t.length > n ? `${t.slice(0, n - 1)}…` : t;
}

// ---------------------------------------------------------------- API key

function setupKey() {
  const input = $("api-key");
  input.value = apiKey();
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = input.value.trim();
    if (key) sessionStorage.setItem(KEY_STORAGE, key);
    else sessionStorage.removeItem(KEY_STORAGE);
    $("key-note").classList.remove("warn");
    $("key-note").textContent = key ? "Key set for this tab's session." : "No key set.";
    forgetImages();
    showAlert("");
    refreshAll();
  });
  $("key-clear").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_STORAGE);
    input.value = "";
    $("key-note").classList.remove("warn");
    $("key-note").textContent = "Key forgotten.";
    forgetImages();
    refreshAll(); // what the old key could see must not stay on screen
  });
}

// ---------------------------------------------------------------- health

async function loadHealth() {
  try {
    const health = await apiJson("/v1/health");
    const backends = health.backends || {};
    const image = backends.image_embed || {};
    state.imageSearch = Boolean(image.active);
    const answer = backends.generate || backends.answer || {};
    const parts = [`service ${health.status || "up"}`];
    if (answer.name) parts.push(`answers: ${answer.name}`);
    parts.push(state.imageSearch ? "image search on" : "image search off");
    $("health").textContent = parts.join(" · ");
    $("health").classList.toggle("bad", health.status && health.status !== "ok");
  } catch (err) {
    state.imageSearch = false;
    $("health").textContent = err.status === 401 ? "API key needed" : `Service unreachable: ${err.message}`;
    $("health").classList.add("bad");
  }
  // Image search is offered only when the server can embed images (CLIP); otherwise the mode is not shown.
  $("mode-image").hidden = !state.imageSearch;
  $("image-file").disabled = !state.imageSearch;
  $("image-button").disabled = !state.imageSearch;
  if (!state.imageSearch && currentMode() === "image") {
    document.querySelector('input[name="mode"][value="ask"]').checked = true;
    setMode("ask");
  }
}

// ---------------------------------------------------------------- documents

function countsText(counts) {
  const order = ["text", "figure", "table", "formula"];
  const keys = Object.keys(counts || {}).sort((a, b) => {
    const ia = order.indexOf(a);
    const ib = order.indexOf(b);
    return (ia < 0 ? 99 : ia) - (ib < 0 ? 99 : ib) || a.localeCompare(b);
  });
  return keys.map((k) => `${counts[k]} ${k}`).join(" · ");
}

async function loadDocuments() {
  let body;
  try {
    body = await apiJson("/v1/documents");
  } catch (err) {
    // A 401 already says so beside the key field; anything else is worth an alert. Either way the list
    // shows nothing rather than what a previous key could see.
    if (err.status !== 401) reportError(err, "Could not list papers");
    body = { documents: [] };
  }
  const docs = body.documents || [];
  state.documents = new Map(docs.map((d) => [d.id, d]));
  const list = $("documents");
  list.replaceChildren(
    ...docs.map((doc) => {
      const title = doc.title || doc.filename || doc.id.slice(0, 12);
      return el(
        "li",
        { class: "doc", dataset: { documentId: doc.id } },
        el(
          "div",
          { class: "doc-main" },
          el("span", { class: "doc-title" }, title),
          el(
            "span",
            { class: "doc-meta" },
            `${doc.pages} page${doc.pages === 1 ? "" : "s"}`,
            doc.status && doc.status !== "ready" ? ` · ${doc.status}` : "",
          ),
          el("span", { class: "doc-counts" }, countsText(doc.counts)),
        ),
        el(
          "div",
          { class: "doc-actions" },
          el(
            "button",
            {
              type: "button",
              class: "secondary",
              "aria-label": `Open page 1 of ${title}`,
              onclick: (e) =>
                openViewer({ documentId: doc.id, page: 1, title, opener: e.currentTarget }),
            },
            "View",
          ),
          el(
            "button",
            {
              type: "button",
              class: "danger",
              "aria-label": `Delete ${title}`,
              onclick: () => deleteDocument(doc.id, title),
            },
            "Delete",
          ),
        ),
      );
    }),
  );
  $("docs-empty").hidden = docs.length > 0;
  $("docs-count").textContent = docs.length ? `(${docs.length})` : "";

  const scope = $("scope");
  const chosen = scope.value;
  scope.replaceChildren(
    el("option", { value: "" }, "All papers"),
    ...docs.map((d) => el("option", { value: d.id }, truncate(d.title || d.id, 60))),
  );
  scope.value = state.documents.has(chosen) ? chosen : "";
}

async function deleteDocument(id, title) {
  if (!window.confirm(`Delete “${title}” and everything indexed from it?`)) return;
  try {
    await api(`/v1/documents/${encodeURIComponent(id)}`, { method: "DELETE" });
    showAlert("");
  } catch (err) {
    reportError(err, "Delete failed");
  }
  await loadDocuments();
  $("library-title").focus?.();
}

// ---------------------------------------------------------------- uploads and jobs

function setupUpload() {
  const input = $("file-input");
  input.addEventListener("change", () => {
    uploadFiles([...input.files]);
    input.value = "";
  });
  const zone = $("dropzone");
  for (const type of ["dragenter", "dragover"]) {
    zone.addEventListener(type, (event) => {
      event.preventDefault();
      zone.classList.add("dragging");
    });
  }
  for (const type of ["dragleave", "drop"]) {
    zone.addEventListener(type, () => zone.classList.remove("dragging"));
  }
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    uploadFiles([...(event.dataTransfer?.files || [])]);
  });
  // A file dropped beside the zone must not navigate away from the page.
  window.addEventListener("dragover", (e) => e.preventDefault());
  window.addEventListener("drop", (e) => e.preventDefault());
}

function uploadFiles(files) {
  for (const file of files) uploadOne(file);
}

function jobRow(name) {
  const bar = el("progress", { max: "1", value: "0", "aria-label": `Progress of ${name}` });
  const status = el("span", { class: "job-status" }, "uploading…");
  const row = el(
    "li",
    { class: "job", dataset: { status: "uploading" } },
    el("span", { class: "job-name" }, name),
    bar,
    status,
  );
  $("jobs").prepend(row);
  return {
    row,
    update(statusName, text, progress) {
      // Screen readers hear each change of state once ("done"), not every percent of progress.
      if (row.dataset.status !== statusName) announce(`${name}: ${text}`);
      row.dataset.status = statusName;
      status.textContent = text;
      if (progress === null) bar.removeAttribute("value");
      else if (progress !== undefined) bar.value = Math.max(0, Math.min(1, progress));
    },
  };
}

async function uploadOne(file) {
  const row = jobRow(file.name);
  const form = new FormData();
  form.append("file", file, file.name);
  let response;
  try {
    response = await api("/v1/documents", { method: "POST", form });
  } catch (err) {
    row.update("failed", `failed: ${err.message}${err.code ? ` [${err.code}]` : ""}`, 0);
    return;
  }
  const body = await response.json();
  row.row.dataset.documentId = body.document_id || "";
  row.row.dataset.jobId = body.job_id || "";
  if (response.status === 200) {
    row.update("succeeded", "already in the library", 1);
    await loadDocuments();
    return;
  }
  await followJob(body.job_id, row);
}

async function followJob(jobId, row) {
  row.update("queued", "queued", null);
  for (;;) {
    let job;
    try {
      job = await apiJson(`/v1/jobs/${encodeURIComponent(jobId)}`);
    } catch (err) {
      row.update("failed", `lost track of the job: ${err.message}`, 0);
      return;
    }
    const pct = Math.round((job.progress || 0) * 100);
    if (job.status === "succeeded") {
      row.update("succeeded", "done", 1);
      await loadDocuments();
      return;
    }
    if (job.status === "searchable" || job.status === "enriching") {
      // Its text is searchable already (it is listed and found); the deferred stages follow. One row state for
      // both, so a screen reader hears "searchable" once.
      if (!row.row.dataset.listed) {
        row.row.dataset.listed = "1";
        await loadDocuments();
      }
      row.update("searchable", `searchable, finishing ${job.stage === "searchable" ? "soon" : job.stage} ${pct}%`, job.progress || 0);
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
      continue;
    }
    if (job.status === "failed") {
      const e = job.error || {};
      row.update("failed", `failed: ${e.message || "unknown error"}${e.code ? ` [${e.code}]` : ""}`, 0);
      return;
    }
    const stage = job.stage ? `${job.stage} ` : "";
    row.update(job.status, `${job.status === "queued" ? "queued" : stage}${pct}%`, job.progress || 0);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// Jobs started before this page loaded (a reload, another tab or another client of this server) are picked up
// again, so their progress is not lost from view.
async function resumeJobs() {
  let body;
  try {
    body = await apiJson("/v1/jobs");
  } catch {
    return; // a 401 is already shown beside the key field; the library list reports other failures
  }
  const shown = new Set([...document.querySelectorAll("#jobs .job")].map((r) => r.dataset.jobId));
  for (const job of body.jobs || []) {
    if (shown.has(job.id)) continue;
    const row = jobRow(job.filename || job.document_id);
    row.row.dataset.jobId = job.id;
    row.row.dataset.documentId = job.document_id;
    followJob(job.id, row);
  }
}

// ---------------------------------------------------------------- modes

function setupModes() {
  for (const radio of document.querySelectorAll('input[name="mode"]')) {
    radio.addEventListener("change", () => setMode(radio.value));
  }
}

function currentMode() {
  return document.querySelector('input[name="mode"]:checked')?.value || "ask";
}

function setMode(mode) {
  for (const form of document.querySelectorAll(".query-form")) {
    form.hidden = form.dataset.mode !== mode;
  }
  $("answer-area").hidden = mode !== "ask" || !$("answer").textContent;
  $("search-area").hidden = mode === "ask" || !$("hits-status").textContent;
}

function scopeIds() {
  const id = $("scope").value;
  return id ? [id] : undefined;
}

function kValue() {
  const k = parseInt($("k").value, 10);
  return Number.isFinite(k) && k > 0 ? Math.min(k, 50) : undefined;
}

// ---------------------------------------------------------------- ask (streamed)

// Parse a text/event-stream body: events are separated by a blank line, each line is "field: value".
async function* readEvents(response) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let match;
    while ((match = /\r?\n\r?\n/.exec(buffer))) {
      const block = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      const event = parseEventBlock(block);
      if (event) yield event;
    }
    if (done) {
      const event = parseEventBlock(buffer);
      if (event) yield event;
      return;
    }
  }
}

function parseEventBlock(block) {
  let name = "message";
  const data = [];
  for (const line of block.split(/\r?\n/)) {
    if (!line || line.startsWith(":")) continue;
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") name = value;
    else if (field === "data") data.push(value);
  }
  if (!data.length) return null;
  const text = data.join("\n");
  try {
    return { name, data: JSON.parse(text) };
  } catch {
    return { name, data: text };
  }
}

function setupAsk() {
  $("ask-form").addEventListener("submit", (event) => {
    event.preventDefault();
    ask($("question").value.trim());
  });
  $("question").addEventListener("keydown", (event) => {
    // Enter asks, Shift+Enter makes a new line: the textarea behaves like a chat box.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("ask-form").requestSubmit();
    }
  });
  $("ask-stop").addEventListener("click", () => state.askAbort?.abort());
}

async function ask(question) {
  if (!question) return;
  state.askAbort?.abort();
  const controller = new AbortController();
  state.askAbort = controller;
  showAlert("");
  const area = $("answer-area");
  const answer = $("answer");
  area.hidden = false;
  area.dataset.state = "streaming";
  area.dataset.tokens = "0";
  answer.setAttribute("aria-busy", "true");
  answer.replaceChildren(el("p", { class: "streaming", dir: "auto" }));
  $("citations").replaceChildren();
  $("evidence").replaceChildren();
  $("evidence-count").textContent = "0";
  showSearchedAs(null);
  $("ask-button").disabled = true;
  $("ask-stop").hidden = false;

  const payload = { question, stream: true, k: kValue(), document_ids: scopeIds() };
  try {
    const response = await api("/v1/ask", {
      method: "POST",
      json: payload,
      signal: controller.signal,
      accept: "text/event-stream",
    });
    const type = response.headers.get("content-type") || "";
    if (!type.includes("text/event-stream")) {
      renderAnswer(await response.json()); // a server that does not stream still answers
    } else {
      let final = null;
      for await (const event of readEvents(response)) {
        if (event.name === "evidence") {
          // What the answer will be drawn from, shown while it is still being written.
          const evidence = (event.data && event.data.evidence) || [];
          showSearchedAs(event.data && event.data.searched_as);
          $("evidence-count").textContent = String(evidence.length);
          $("evidence").replaceChildren(...evidence.map((h, i) => hitItem(h, i + 1)));
        } else if (event.name === "token") {
          area.dataset.tokens = String(Number(area.dataset.tokens || 0) + 1);
          const text = typeof event.data === "string" ? event.data : event.data.text || "";
          answer.firstChild.append(text);
        } else if (event.name === "final") {
          final = event.data;
          renderAnswer(final);
        } else if (event.name === "error") {
          const e = event.data || {};
          throw new ApiError(200, e.code || "stream_error", e.message || String(event.data));
        }
      }
      if (!final) throw new ApiError(200, "stream_ended", "The answer stream ended before the answer was complete.");
    }
    area.dataset.state = "done";
  } catch (err) {
    area.dataset.state = err.name === "AbortError" ? "stopped" : "failed";
    if (err.name === "AbortError") answer.append(el("p", { class: "note" }, "(stopped)"));
    else reportError(err, "Asking failed");
  } finally {
    answer.setAttribute("aria-busy", "false");
    $("ask-button").disabled = false;
    $("ask-stop").hidden = true;
    if (state.askAbort === controller) state.askAbort = null;
  }
}

// Turn "... [1] ... [2, 3]" into text with links to the cited regions.
function answerNodes(text, citationsByN) {
  const nodes = [];
  const pattern = /\[(\d+(?:\s*[,;]\s*\d+)*)\]/g;
  let last = 0;
  let match;
  while ((match = pattern.exec(text))) {
    nodes.push(text.slice(last, match.index));
    const numbers = match[1].split(/\s*[,;]\s*/).map(Number);
    const links = numbers.map((n) => {
      const c = citationsByN.get(n);
      if (!c) return `${n}`;
      return el(
        "a",
        {
          href: `#cite-${n}`,
          class: "cite-ref",
          dataset: { n: String(n) },
          "aria-label": `Citation ${n}: ${docTitle(c.document_id)}, page ${c.page}, ${c.kind}. Opens the page.`,
          onclick: (e) => {
            e.preventDefault();
            openCitation(c, e.currentTarget);
          },
        },
        `${n}`,
      );
    });
    nodes.push("[", ...links.flatMap((l, i) => (i ? [", ", l] : [l])), "]");
    last = match.index + match[0].length;
  }
  nodes.push(text.slice(last));
  return nodes;
}

function languageName(code) {
  try {
    return new Intl.DisplayNames(["en"], { type: "language" }).of(code) || code;
  } catch {
    return code;
  }
}

// A language the server could name ("und": it could not); used for lang attributes.
function knownLang(lang) {
  return lang && lang !== "und" ? lang : undefined;
}

// A question not in English may have been searched as its English translation (retrieve.translate_queries).
function showSearchedAs(searchedAs) {
  $("searched-as").hidden = !searchedAs;
  $("searched-as").textContent = searchedAs ? `Searched as its English translation: “${searchedAs}”` : "";
}

function renderAnswer(result) {
  const citations = result.citations || [];
  showSearchedAs(result.searched_as);
  const byN = new Map(citations.map((c) => [c.n, c]));
  const paragraphs = (result.answer || "").split(/\n{2,}/).filter((p) => p.trim());
  const lang = knownLang(result.lang);
  $("answer").replaceChildren(
    ...(paragraphs.length ? paragraphs : ["(no answer)"]).map((p) =>
      el("p", { dir: "auto", lang }, answerNodes(p, byN)),
    ),
  );
  // The offline answer quotes the papers: a question in another language gets their words, not a translation.
  const asked = knownLang(result.question_lang);
  if (lang && asked && lang !== asked && citations.length) {
    $("answer").append(
      el(
        "p",
        { class: "note lang-note", dir: "auto" },
        `The answer quotes the papers in their own language (${languageName(lang)}); it is not a translation ` +
          `into the question's (${languageName(asked)}).`,
      ),
    );
  }
  if (result.warnings && result.warnings.length) {
    $("answer").append(el("p", { class: "note warn" }, `Warnings: ${result.warnings.join("; ")}`));
  }
  $("citations").replaceChildren(
    ...citations.map((c) =>
      el(
        "li",
        {
          id: `cite-${c.n}`,
          class: "citation",
          dataset: {
            kind: c.kind,
            n: String(c.n),
            page: String(c.page),
            bbox: JSON.stringify(c.bbox),
            chunkId: String(c.chunk_id),
          },
        },
        el(
          "div",
          { class: "citation-head" },
          el("span", { class: "cite-n" }, `[${c.n}]`),
          el(
            "a",
            {
              href: `#cite-${c.n}`,
              class: "cite-link",
              onclick: (e) => {
                e.preventDefault();
                openCitation(c, e.currentTarget);
              },
            },
            `${c.title || docTitle(c.document_id)}, page ${c.page}`,
          ),
          kindBadge(c.kind),
        ),
        c.image_url
          ? thumbnail(c.image_url, `${c.kind} cited as [${c.n}], page ${c.page}: show it on the page`, (opener) =>
              openCitation(c, opener),
            )
          : null,
        el("blockquote", { dir: "auto", lang: knownLang(c.lang) }, truncate(c.quote, 400)),
      ),
    ),
  );
  const evidence = result.evidence || [];
  $("evidence-count").textContent = String(evidence.length);
  $("evidence").replaceChildren(...evidence.map((h, i) => hitItem(h, i + 1)));
  // A visual in the evidence that the answer did not cite is still worth seeing: open the box then.
  const uncitedVisual = evidence.some(
    (h) => h.image_url && !citations.some((c) => c.chunk_id === h.chunk_id),
  );
  if (uncitedVisual && !citations.some((c) => c.image_url)) $("evidence-box").open = true;
}

function openCitation(c, opener) {
  openViewer({
    documentId: c.document_id,
    page: c.page,
    bbox: c.bbox,
    kind: c.kind,
    title: c.title || docTitle(c.document_id),
    quote: c.quote,
    opener,
  });
}

// ---------------------------------------------------------------- search

function hitItem(hit, rank) {
  const title = hit.title || docTitle(hit.document_id);
  return el(
    "li",
    { class: "hit", dataset: { kind: hit.kind, page: String(hit.page), chunkId: String(hit.chunk_id) } },
    el(
      "div",
      { class: "hit-head" },
      el("span", { class: "rank" }, `${rank}.`),
      kindBadge(hit.kind),
      el("span", { class: "score", title: "retrieval score" }, `score ${Number(hit.score).toFixed(3)}`),
      el("span", { class: "hit-page" }, `page ${hit.page}`),
      el("span", { class: "hit-title", dir: "auto" }, truncate(title, 60)),
    ),
    hit.image_url
      ? thumbnail(hit.image_url, `${hit.kind} on page ${hit.page} of ${title}: show it on the page`, (opener) =>
          openViewer({
            documentId: hit.document_id,
            page: hit.page,
            bbox: hit.bbox,
            kind: hit.kind,
            title,
            quote: truncate(hit.text, 200),
            opener,
          }),
        )
      : null,
    el("p", { class: "hit-text", dir: "auto" }, truncate(hit.text, 360)),
    el(
      "button",
      {
        type: "button",
        class: "secondary small",
        onclick: (e) =>
          openViewer({
            documentId: hit.document_id,
            page: hit.page,
            bbox: hit.bbox,
            kind: hit.kind,
            title,
            quote: truncate(hit.text, 200),
            opener: e.currentTarget,
          }),
      },
      `Show on page ${hit.page}`,
    ),
  );
}

function showHits(hits, what) {
  $("search-area").hidden = false;
  $("hits-status").textContent = hits.length
    ? `${hits.length} result${hits.length === 1 ? "" : "s"} for ${what}`
    : `Nothing found for ${what}.`;
  $("hits").replaceChildren(...hits.map((h, i) => hitItem(h, i + 1)));
}

function setupSearch() {
  $("search-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const query = $("search-query").value.trim();
    if (!query) return;
    const kinds = [...document.querySelectorAll('#search-form input[name="kind"]:checked')].map((c) => c.value);
    showAlert("");
    $("search-area").hidden = false;
    $("hits-status").textContent = "Searching…";
    try {
      const body = await apiJson("/v1/search", {
        method: "POST",
        json: { query, k: kValue(), document_ids: scopeIds(), kinds: kinds.length ? kinds : undefined },
      });
      const what = body.searched_as ? `“${query}”, searched as “${body.searched_as}”` : `“${query}”`;
      showHits(body.hits || [], what);
    } catch (err) {
      $("hits-status").textContent = "";
      reportError(err, "Search failed");
    }
  });
  $("image-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = $("image-file").files[0];
    if (!file) return;
    // POST /v1/search as multipart: the picture in "image", the JSON body's other fields as form fields.
    const form = new FormData();
    form.append("image", file, file.name);
    const k = kValue();
    if (k) form.append("k", String(k));
    for (const id of scopeIds() || []) form.append("document_ids", id);
    showAlert("");
    $("search-area").hidden = false;
    $("hits-status").textContent = "Searching…";
    try {
      const body = await apiJson("/v1/search", { method: "POST", form });
      showHits(body.hits || [], `the image ${file.name}`);
    } catch (err) {
      $("hits-status").textContent = "";
      reportError(err, "Image search failed");
    }
  });
}

// ---------------------------------------------------------------- page viewer

function setupViewer() {
  const dialog = $("viewer");
  $("viewer-close").addEventListener("click", () => dialog.close());
  $("viewer-prev").addEventListener("click", () => turnPage(-1));
  $("viewer-next").addEventListener("click", () => turnPage(1));
  dialog.addEventListener("close", () => {
    const opener = state.viewer && state.viewer.opener;
    if (opener && opener.isConnected) opener.focus();
  });
  // A click on the backdrop (outside the dialog box) closes it, as people expect of a modal.
  dialog.addEventListener("click", (event) => {
    if (event.target === dialog) dialog.close();
  });
  $("page-image").addEventListener("load", placeHighlight);
  window.addEventListener("resize", placeHighlight);
}

function turnPage(delta) {
  const v = state.viewer;
  if (!v) return;
  const page = v.page + delta;
  if (page < 1 || (v.pages && page > v.pages)) return;
  openViewer({ ...v, page, bbox: page === v.bboxPage ? v.originalBbox : null });
}

async function openViewer(options) {
  const doc = state.documents.get(options.documentId);
  const pages = doc ? doc.pages : options.pages;
  const v = {
    ...options,
    pages,
    bboxPage: options.bboxPage ?? (options.bbox ? options.page : null),
    originalBbox: options.originalBbox ?? options.bbox ?? null,
  };
  state.viewer = v;
  const dialog = $("viewer");
  $("viewer-title").textContent = `${v.title || docTitle(v.documentId)} — page ${v.page}${pages ? ` of ${pages}` : ""}`;
  // "figure: Figure: ..." says the kind twice: name the kind only when the quote does not start with it.
  const quote = v.quote ? truncate(v.quote, 300) : "";
  const named = !v.kind || quote.toLowerCase().startsWith(v.kind);
  $("viewer-quote").textContent = v.bbox && quote ? `${named ? "" : `${v.kind}: `}${quote}` : "";
  $("viewer-prev").disabled = v.page <= 1;
  $("viewer-next").disabled = Boolean(pages) && v.page >= pages;
  $("highlight").hidden = true;
  const img = $("page-image");
  img.alt = `Page ${v.page} of ${v.title || docTitle(v.documentId)}`;
  dialog.dataset.state = "loading";
  if (!dialog.open) dialog.showModal();
  const url = `/v1/documents/${encodeURIComponent(v.documentId)}/pages/${v.page}/image?dpi=${PAGE_DPI}`;
  try {
    const image = await loadImage(url);
    if (state.viewer !== v) return; // another page was asked for meanwhile
    v.pageWidth = image.pageWidth;
    v.pageHeight = image.pageHeight;
    if (img.src === image.src && img.complete) placeHighlight();
    else img.src = image.src;
  } catch (err) {
    dialog.dataset.state = "failed";
    reportError(err, "Could not load the page image");
  }
}

// Bboxes are in PDF points. The box is placed in percent of the page (its size in points from the render's
// headers; else the render's pixels at PAGE_DPI, 1 pt = 1/72 inch), so it stays on the region however the
// image is scaled on screen.
function placeHighlight() {
  const v = state.viewer;
  const img = $("page-image");
  const box = $("highlight");
  if (!v || !img.naturalWidth) return;
  $("viewer").dataset.state = "ready";
  if (!v.bbox) {
    box.hidden = true;
    return;
  }
  const W = v.pageWidth || (img.naturalWidth * 72) / PAGE_DPI;
  const H = v.pageHeight || (img.naturalHeight * 72) / PAGE_DPI;
  const clamp = (x, size) => Math.max(0, Math.min(size, x));
  const x0 = clamp(v.bbox[0], W);
  const y0 = clamp(v.bbox[1], H);
  const x1 = clamp(v.bbox[2], W);
  const y1 = clamp(v.bbox[3], H);
  box.style.left = `${(x0 / W) * 100}%`;
  box.style.top = `${(y0 / H) * 100}%`;
  box.style.width = `${((x1 - x0) / W) * 100}%`;
  box.style.height = `${((y1 - y0) / H) * 100}%`;
  box.setAttribute("aria-label", `Cited ${v.kind || "region"}`);
  box.hidden = false;
  box.scrollIntoView({ block: "center", inline: "nearest" });
}

// ---------------------------------------------------------------- start

async function refreshAll() {
  await Promise.all([loadHealth(), loadDocuments(), resumeJobs()]);
}

function start() {
  setupKey();
  setupUpload();
  setupModes();
  setupAsk();
  setupSearch();
  setupViewer();
  setMode(currentMode());
  refreshAll().then(() => {
    document.body.dataset.ready = "true";
  });
}

start();
