// The page: image list, the current image's mask, and the actions on it.
// Every edit goes to the server, which answers with the whole mask; the page
// only draws what the server holds, so a reload shows exactly what is stored.

import * as api from "./api.js";
import { Overlay, area, decodeRuns, encodeRuns, paintSegment } from "./mask.js";
import { Viewer } from "./viewer.js";

const $ = (id) => document.getElementById(id);
const LAST_TYPE_KEY = "defectlab.lastDefectType"; // the next image most likely has the same defect
const STATUS_LABEL = { unlabelled: "", labelled: "", no_defect: "no defect", skipped: "skipped" };

const state = {
  images: [],
  byId: new Map(),
  filter: "all",
  current: null, // id
  info: null, // server's view of the current image
  mask: null,
  opening: 0, // increments per navigation, so late answers for an old image are dropped
  queue: Promise.resolve(), // edits run one after another, in the order made
  stroke: null,
  heatOn: false,
  defectTypes: [],
  modelReady: true, // false while the server still loads the model that reads defect types
  promptPending: null, // the prompt (as a slug) sent and not answered yet
};

const overlay = new Overlay();
const viewer = new Viewer($("stage"), $("canvas"), {
  click: (x, y, positive) => clickAt(x, y, positive),
  strokeStart: (x, y) => strokeStart(x, y),
  strokeMove: (x, y) => strokeMove(x, y),
  strokeEnd: () => strokeEnd(),
  zoomed: (scale) => ($("zoom-level").textContent = `${Math.round(scale * 100)}%`),
});
viewer.overlay = overlay;
// For the browser console and the end-to-end test: where things are on screen.
window.defectlab = { state, viewer };

// ---------------------------------------------------------------- messages

let toastTimer = 0;
function toast(text, isError = false) {
  const el = $("toast");
  el.textContent = text;
  el.className = isError ? "error" : "";
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (el.hidden = true), isError ? 6000 : 2200);
}

function stageMessage(text, isError = false) {
  const el = $("stage-message");
  el.hidden = !text;
  el.textContent = text || "";
  el.classList.toggle("error", isError);
}

function fail(err) {
  console.error(err);
  if (err.status === 401) stageMessage(err.message, true); // nothing works until the token is given
  else toast(err.message || String(err), true);
}

// Errors that leave nothing to show on the canvas: said once, where the image would be.
function failOnStage(err) {
  console.error(err);
  setBusy("error");
  stageMessage(err.message || String(err), true);
}

// Edits are chained so that a fast second click is sent after the first one's answer.
function enqueue(task) {
  const run = state.queue.then(task).catch(fail);
  state.queue = run;
  return run;
}

// -------------------------------------------------------------- image list

async function loadState() {
  const s = await api.get("/api/state");
  state.images = s.images;
  state.byId = new Map(s.images.map((im) => [im.id, im]));
  setDefectTypes(s.defect_types);
  showProgress(s.progress);
  $("who").textContent = `labelling as ${s.user}`;
  $("out-dir").textContent = s.out_dir;
  state.modelReady = s.model.ready;
  for (const w of s.warnings) toast(w, true);
  renderList();
  return s.current || (s.images[0] && s.images[0].id);
}

function visibleImages() {
  return state.filter === "all" ? state.images : state.images.filter((im) => im.status === state.filter);
}

function renderList() {
  const list = $("image-list");
  const shown = visibleImages();
  list.replaceChildren(
    ...shown.map((im) => {
      const li = document.createElement("li");
      li.dataset.id = im.id;
      li.className = im.status + (im.id === state.current ? " current" : "") + (im.unsaved ? " unsaved" : "");
      li.title = `${im.name} — ${im.status.replace("_", " ")}${im.defect_type ? " (" + im.defect_type + ")" : ""}`;
      const dot = document.createElement("span");
      dot.className = "dot";
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = im.name;
      const tag = document.createElement("span");
      tag.className = "tag";
      tag.textContent = im.status === "labelled" ? im.defect_type || "" : STATUS_LABEL[im.status];
      li.append(dot, name, tag);
      return li;
    })
  );
  $("list-count").textContent = `${shown.length}`;
  list.querySelector(".current")?.scrollIntoView({ block: "nearest" });
}

function updateImage(id, changes) {
  const im = state.byId.get(id);
  if (im) Object.assign(im, changes);
  renderList();
}

function showProgress(p) {
  $("progress-fill").style.width = p.total ? `${(100 * p.done) / p.total}%` : "0";
  const extra = p.skipped ? `, ${p.skipped} skipped` : "";
  $("progress-text").textContent = `${p.done} / ${p.total} done (${p.labelled} labelled, ${p.no_defect} no defect${extra})`;
}

// The folder name the server makes of a defect type ("Hair crack" -> "hair_crack"), for comparing.
function slug(text) {
  return (text || "").normalize("NFKD").replace(/[^\x00-\x7f]/g, "").toLowerCase()
    .replace(/[^a-z0-9]+/g, "_").replace(/^_+|_+$/g, "");
}

function setDefectTypes(types) {
  state.defectTypes = types;
  $("defect-types").replaceChildren(
    ...types.map((t) => Object.assign(document.createElement("option"), { value: t }))
  );
  const current = slug($("defect-type").value);
  $("type-chips").replaceChildren(
    ...types.map((t) => {
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = t;
      b.className = t === current ? "active" : "";
      b.addEventListener("click", () => chooseDefectType(t));
      return b;
    })
  );
}

// --------------------------------------------------------------- navigation

function neighbour(step) {
  const shown = visibleImages();
  let index = shown.findIndex((im) => im.id === state.current);
  if (index < 0) {
    // The current image left the filtered list (e.g. just labelled): continue from its place overall.
    const all = state.images.findIndex((im) => im.id === state.current);
    const after = shown.findIndex((im) => state.images.indexOf(im) > all);
    index = step > 0 ? (after < 0 ? shown.length : after) - 1 : after < 0 ? shown.length : after;
  }
  return shown[index + step]?.id ?? null;
}

async function openImage(id) {
  if (!id) return;
  await state.queue.catch(() => {});
  const ticket = ++state.opening;
  state.current = id;
  state.info = null;
  state.mask = null;
  state.promptPending = null;
  viewer.clicks = [];
  renderList();
  setBusy("loading");
  stageMessage("");
  const meta = state.byId.get(id);
  $("image-name").textContent = meta ? meta.name : "";
  try {
    const following = neighbour(+1);
    const info = await api.post(`/api/images/${id}/open`, following ? { prefetch: following } : {});
    if (ticket !== state.opening) return;
    const image = await loadPicture(`/api/images/${id}/image`);
    if (ticket !== state.opening) return;
    overlay.resize(info.width, info.height);
    viewer.setImage(image, info.width, info.height);
    $("image-size").textContent = `${info.width} × ${info.height}`;
    if (info.defect_type) $("defect-type").value = info.defect_type;
    let ready = info;
    if (!info.ready) {
      stageMessage("Preparing this image… (the first one also loads the model)");
      while (!ready.ready) {
        ready = await api.get(`/api/images/${id}?wait=10`);
        if (ticket !== state.opening) return;
      }
      stageMessage("");
    }
    // The field shows what the model uses for this image: its own prompt (kept in its
    // draft), else the type it was saved with, else the type used last, which then applies.
    if (ready.prompt) $("defect-type").value = ready.prompt;
    applyState(ready);
    if (state.heatOn) loadHeatmap();
    await syncPrompt();
    setBusy("ready");
  } catch (err) {
    if (ticket === state.opening) failOnStage(err);
  }
}

function loadPicture(src) {
  return new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("the image could not be loaded"));
    img.src = src;
  });
}

function setBusy(value) {
  $("stage").dataset.state = value;
}

// ----------------------------------------------------------------- mask state

function applyState(s) {
  state.info = { ...(state.info || {}), ...s };
  if ("model_ready" in s) state.modelReady = s.model_ready;
  const [h, w] = s.mask.size;
  state.mask = decodeRuns(s.mask.counts, w * h);
  overlay.draw(state.mask, opacity());
  viewer.clicks = s.clicks;
  viewer.redraw();
  $("undo").disabled = !s.can_undo;
  $("redo").disabled = !s.can_redo;
  if ("fill" in s) {
    // null: the model has no fill to switch (e.g. --engine fake)
    $("fill").disabled = s.fill === null;
    $("fill").checked = Boolean(s.fill);
    $("stage").dataset.fill = String(s.fill);
  }
  const n = area(state.mask);
  $("stage").dataset.area = String(n);
  $("stage").dataset.clicks = String(s.clicks.length);
  const positives = s.clicks.filter((c) => c[2]).length;
  $("click-info").textContent =
    `${s.clicks.length} click${s.clicks.length === 1 ? "" : "s"} (${positives} +, ${s.clicks.length - positives} −) · mask ${n} px` +
    (s.dirty ? " · unsaved" : "");
  if (state.current) {
    const im = state.byId.get(state.current);
    if (im && im.unsaved !== Boolean(s.dirty)) updateImage(state.current, { unsaved: Boolean(s.dirty) });
  }
}

function opacity() {
  return Number($("opacity").value) / 100;
}

// onStart runs when the edit's turn comes, just before it is sent.
function edit(path, body, method = "POST", onStart = null) {
  const id = state.current;
  const ticket = state.opening;
  return enqueue(async () => {
    if (!state.info) return;
    onStart?.();
    const started = performance.now();
    const s = await api.call(method, `/api/images/${id}/${path}`, body);
    if (ticket !== state.opening) return;
    applyState(s);
    await new Promise(requestAnimationFrame);
    const ms = performance.now() - started;
    $("latency").textContent = `${path}: ${ms.toFixed(0)} ms (server ${s.server_ms} ms)`;
    $("stage").dataset.latency = ms.toFixed(1);
  });
}

function clickAt(x, y, positive) {
  if (!state.info) {
    toast("still preparing this image…");
    return;
  }
  if ($("stage").dataset.model === "loading") toast("the click is applied as soon as the model is loaded");
  viewer.clicks = [...viewer.clicks, [x, y, positive]]; // shown at once; the mask follows
  viewer.redraw();
  edit("click", { x, y, positive });
}

const undo = () => edit("undo");
const redo = () => edit("redo");
const reset = () => edit("reset");

// ------------------------------------------------------------------ brush

function strokeStart(x, y) {
  if (!state.mask || !state.info) return;
  state.stroke = { x, y, value: viewer.tool === "brush" ? 1 : 0 };
  strokeMove(x, y);
}

function strokeMove(x, y) {
  const s = state.stroke;
  if (!s) return;
  const { width, height } = state.info;
  const rect = paintSegment(state.mask, width, height, s.x, s.y, x, y, viewer.brushRadius, s.value);
  s.x = x;
  s.y = y;
  if (rect.x1 > rect.x0 && rect.y1 > rect.y0) overlay.draw(state.mask, opacity(), rect);
  viewer.redraw();
}

function strokeEnd() {
  if (!state.stroke) return;
  state.stroke = null;
  const { width, height } = state.info;
  edit("mask", { size: [height, width], counts: encodeRuns(state.mask) }, "PUT");
}

// ------------------------------------------------------------- heat map

async function loadHeatmap() {
  const id = state.current;
  if (!id) return;
  try {
    const img = await loadPicture(`/api/images/${id}/heatmap`);
    if (id === state.current && state.heatOn) {
      viewer.heat = img;
      viewer.redraw();
    }
  } catch (err) {
    toast("the heat map could not be loaded", true);
  }
}

function toggleHeatmap(on) {
  state.heatOn = on;
  $("heatmap").checked = on;
  if (on) loadHeatmap();
  else {
    viewer.heat = null;
    viewer.redraw();
  }
}

// ------------------------------------------------------------ defect type

function chooseDefectType(t) {
  $("defect-type").value = t;
  setDefectTypes(state.defectTypes);
  syncPrompt();
}

// While the server loads the model that reads defect types (once, at start), the
// prompt waits for it and so do the clicks queued behind it: say so on the stage.
function modelLoading(on) {
  $("stage").dataset.model = on ? "loading" : "ready";
  $("model-status").hidden = !on;
}

let promptTimer = 0;
async function syncPrompt() {
  const value = $("defect-type").value.trim();
  $("defect-type").classList.remove("invalid");
  setDefectTypes(state.defectTypes);
  clearTimeout(promptTimer); // Enter or a chip: the typing timer's call would only repeat this one
  if (!state.info) return;
  const wanted = slug(value);
  if (wanted === (state.promptPending ?? slug(state.info.prompt))) return;
  state.promptPending = wanted;
  let waited = false;
  const onStart = () => {
    waited = Boolean(wanted) && !state.modelReady;
    if (waited) modelLoading(true);
  };
  try {
    // An empty field clears the prompt: the model then looks for any defect.
    await edit("prompt", { defect_type: value || null }, "PUT", onStart);
  } finally {
    if (waited) modelLoading(false);
    if (state.promptPending === wanted) state.promptPending = null;
  }
}

// ------------------------------------------------------ fill between clicks

function setFill(on) {
  if (!state.info || $("fill").disabled) return;
  // After the call, failed or not, the box shows what the server holds.
  edit("fill", { fill: on }, "PUT").then(() => {
    if (state.info) $("fill").checked = Boolean(state.info.fill);
  });
}

// ----------------------------------------------------------------- saving

async function save() {
  const id = state.current;
  const value = $("defect-type").value.trim();
  if (!id || !state.info) return;
  if (!value) {
    $("defect-type").classList.add("invalid");
    $("defect-type").focus();
    toast("Type the defect type first (e.g. crack), then save.", true);
    return;
  }
  await state.queue.catch(() => {});
  const next = neighbour(+1);
  try {
    const r = await api.post(`/api/images/${id}/save`, { defect_type: value });
    applyState(r);
    updateImage(id, { status: "labelled", defect_type: r.entry.defect_type, unsaved: false });
    setDefectTypes(r.defect_types);
    showProgress(r.progress);
    localStorage.setItem(LAST_TYPE_KEY, r.entry.defect_type);
    toast(`Saved ${r.entry.mask}`);
    $("stage").dataset.saved = r.entry.mask;
    if (next) openImage(next);
  } catch (err) {
    if (err.status === 422 && /defect type/.test(err.message)) $("defect-type").classList.add("invalid");
    fail(err);
  }
}

async function mark(kind) {
  const id = state.current;
  if (!id) return;
  await state.queue.catch(() => {});
  const next = neighbour(+1);
  try {
    const r = await api.post(`/api/images/${id}/${kind}`);
    updateImage(id, { status: r.entry.status, defect_type: null, unsaved: false });
    showProgress(r.progress);
    toast(kind === "skip" ? "Skipped" : "Marked as no defect");
    if (next) openImage(next);
  } catch (err) {
    fail(err);
  }
}

// ---------------------------------------------------------------- controls

function setTool(tool) {
  viewer.tool = tool;
  for (const b of document.querySelectorAll("[data-tool]")) b.classList.toggle("active", b.dataset.tool === tool);
  $("brush-size-control").hidden = tool === "click"; // only the brush and eraser have a size
  viewer.redraw();
}

function setBrushSize(value) {
  const v = Math.max(1, Math.min(150, Math.round(value)));
  $("brush-size").value = v;
  $("brush-size-value").textContent = v;
  viewer.brushRadius = v;
  viewer.redraw();
}

function bindControls() {
  for (const b of document.querySelectorAll("[data-tool]")) b.addEventListener("click", () => setTool(b.dataset.tool));
  $("brush-size").addEventListener("input", (e) => setBrushSize(Number(e.target.value)));
  $("opacity").addEventListener("input", () => {
    overlay.draw(state.mask, opacity());
    viewer.redraw();
  });
  $("heatmap").addEventListener("change", (e) => toggleHeatmap(e.target.checked));
  $("undo").addEventListener("click", undo);
  $("redo").addEventListener("click", redo);
  $("reset").addEventListener("click", reset);
  $("zoom-in").addEventListener("click", () => viewer.zoomBy(1.25));
  $("zoom-out").addEventListener("click", () => viewer.zoomBy(0.8));
  $("zoom-fit").addEventListener("click", () => viewer.fit());
  $("save").addEventListener("click", save);
  $("no-defect").addEventListener("click", () => mark("no-defect"));
  $("skip").addEventListener("click", () => mark("skip"));
  $("next").addEventListener("click", () => openImage(neighbour(+1)));
  $("prev").addEventListener("click", () => openImage(neighbour(-1)));
  $("filter").addEventListener("change", (e) => {
    state.filter = e.target.value;
    renderList();
  });
  $("image-list").addEventListener("click", (e) => {
    const li = e.target.closest("li");
    if (li) openImage(li.dataset.id);
  });
  $("fill").addEventListener("change", (e) => setFill(e.target.checked));
  const field = $("defect-type");
  field.addEventListener("input", () => {
    clearTimeout(promptTimer);
    promptTimer = setTimeout(syncPrompt, 500);
  });
  field.addEventListener("change", syncPrompt);
  field.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === "Escape") {
      e.preventDefault();
      field.blur();
    }
  });
  document.addEventListener("keydown", onKey);
  document.addEventListener("keyup", (e) => {
    if (e.code === "Space") viewer.spaceHeld = false;
  });
}

function onKey(e) {
  if (e.target instanceof HTMLInputElement && e.target.type === "text") return;
  if (e.target instanceof HTMLInputElement && e.target.list) return;
  if (e.target instanceof HTMLSelectElement) return;
  const key = e.key.toLowerCase();
  const ctrl = e.ctrlKey || e.metaKey;
  let handled = true;
  if (ctrl && key === "z" && !e.shiftKey) undo();
  else if (ctrl && (key === "y" || (key === "z" && e.shiftKey))) redo();
  else if (ctrl || e.altKey) handled = false;
  else if (key === "n") openImage(neighbour(+1));
  else if (key === "p") openImage(neighbour(-1));
  else if (key === "s") save();
  else if (key === "g") mark("no-defect");
  else if (key === "k") mark("skip");
  else if (key === "c") setTool("click");
  else if (key === "b") setTool("brush");
  else if (key === "e") setTool("eraser");
  else if (key === "h") toggleHeatmap(!state.heatOn);
  else if (key === "f") viewer.fit();
  else if (key === "r") reset();
  else if (key === "l") setFill(!$("fill").checked);
  else if (key === "+" || key === "=") viewer.zoomBy(1.25);
  else if (key === "-") viewer.zoomBy(0.8);
  else if (key === "[") setBrushSize(viewer.brushRadius / 1.25);
  else if (key === "]") setBrushSize(viewer.brushRadius * 1.25 + 1);
  else if (e.code === "Space") viewer.spaceHeld = true;
  else handled = false;
  if (handled) e.preventDefault();
}

async function main() {
  bindControls();
  $("defect-type").value = localStorage.getItem(LAST_TYPE_KEY) || "";
  setBrushSize(Number($("brush-size").value));
  try {
    const first = await loadState();
    if (!first) {
      stageMessage("No images to label.", true);
      return;
    }
    await openImage(first);
  } catch (err) {
    failOnStage(err);
  }
}

main();
