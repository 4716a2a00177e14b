// The zone editor: zones and masks as SVG over the snapshot, in page units (0..1 of the image);
// the server converts them to the file's units and validates them exactly as `check` does.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const svg = document.getElementById("canvas");
const img = document.getElementById("image");
let doc = null;         // {zones: [...], masks: [...], anchors, session, ...}
let selected = null;    // "zones:0"
let size = [640, 480];

const key = (list, i) => `${list}:${i}`;
const item = (k) => { const [l, i] = k.split(":"); return doc[l][Number(i)]; };
const kindOf = (list, it) => (list === "masks" ? "mask" : it.kind);

function el(parent, name, attrs = {}, text = null) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  parent.appendChild(e);
  return e;
}

function setStatus(state, text) {
  const s = document.getElementById("status");
  s.dataset.state = state;
  s.textContent = text;
}

function dirty() { setStatus("dirty", "unsaved changes"); }

function toPage(evt) {
  const pt = svg.createSVGPoint();
  pt.x = evt.clientX; pt.y = evt.clientY;
  const p = pt.matrixTransform(svg.getScreenCTM().inverse());
  return [Math.min(1, Math.max(0, p.x / size[0])), Math.min(1, Math.max(0, p.y / size[1]))];
}

function draw() {
  svg.setAttribute("viewBox", `0 0 ${size[0]} ${size[1]}`);
  svg.replaceChildren();
  for (const list of ["masks", "zones"]) {
    doc[list].forEach((it, i) => {
      const k = key(list, i);
      const pts = it.polygon_norm.map(([x, y]) => `${x * size[0]},${y * size[1]}`).join(" ");
      const poly = el(svg, "polygon", { points: pts, "data-item": k, "data-id": it.id,
        class: `${kindOf(list, it)}${k === selected ? " selected" : ""}${it._error ? " invalid" : ""}` });
      poly.addEventListener("pointerdown", () => select(k));
      poly.addEventListener("dblclick", (e) => insertVertex(k, toPage(e)));
      const [x0, y0] = it.polygon_norm[0];
      el(svg, "text", { class: "label", x: x0 * size[0] + 6, y: y0 * size[1] + 18 },
        `${kindOf(list, it)} ${it.id}`);
    });
  }
  for (const list of ["masks", "zones"]) {
    doc[list].forEach((it, i) => {
      const k = key(list, i);
      it.polygon_norm.forEach(([x, y], j) => {
        const h = el(svg, "circle", { class: "handle", cx: x * size[0], cy: y * size[1],
          r: Math.max(5, size[0] / 110), "data-item": k, "data-index": j });
        h.addEventListener("pointerdown", (e) => startDrag(e, k, j));
      });
    });
  }
}

function startDrag(evt, k, j) {
  evt.preventDefault();
  evt.stopPropagation();
  const it = item(k);
  if (evt.altKey) {
    if (it.polygon_norm.length > 3) { it.polygon_norm.splice(j, 1); dirty(); }
    select(k);
    return;
  }
  select(k, false);
  const move = (e) => {
    it.polygon_norm[j] = toPage(e).map((v) => Math.round(v * 10000) / 10000);
    const poly = svg.querySelector(`polygon[data-item="${k}"]`);
    poly.setAttribute("points", it.polygon_norm.map(([x, y]) => `${x * size[0]},${y * size[1]}`).join(" "));
    evt.target.setAttribute("cx", it.polygon_norm[j][0] * size[0]);
    evt.target.setAttribute("cy", it.polygon_norm[j][1] * size[1]);
  };
  const up = () => {
    window.removeEventListener("pointermove", move);
    window.removeEventListener("pointerup", up);
    dirty();
    draw();
  };
  window.addEventListener("pointermove", move);
  window.addEventListener("pointerup", up);
}

function insertVertex(k, p) {
  const pts = item(k).polygon_norm;
  let best = 0, bestD = Infinity;
  pts.forEach((a, i) => {
    const b = pts[(i + 1) % pts.length];
    const d = Math.hypot(p[0] - (a[0] + b[0]) / 2, p[1] - (a[1] + b[1]) / 2);
    if (d < bestD) { bestD = d; best = i; }
  });
  pts.splice(best + 1, 0, p);
  dirty();
  draw();
}

function select(k, redraw = true) {
  selected = k;
  document.querySelectorAll(".item").forEach((n) => n.classList.toggle("selected", n.dataset.item === k));
  if (redraw) draw();
}

function field(parent, label, input) {
  const l = document.createElement("label");
  l.textContent = label;
  l.appendChild(input);
  parent.appendChild(l);
  return input;
}

function input(value, onChange, attrs = {}) {
  const i = document.createElement("input");
  Object.assign(i, attrs);
  i.value = value;
  i.addEventListener("change", () => { onChange(i.value); dirty(); draw(); });
  return i;
}

function choice(options, value, onChange) {
  const s = document.createElement("select");
  for (const o of options) s.add(new Option(o, o, false, o === value));
  s.addEventListener("change", () => { onChange(s.value); dirty(); draw(); });
  return s;
}

function panel() {
  const box = document.getElementById("items");
  box.replaceChildren();
  for (const list of ["zones", "masks"]) {
    doc[list].forEach((it, i) => {
      const k = key(list, i);
      const n = document.createElement("div");
      n.className = "item" + (k === selected ? " selected" : "");
      n.dataset.item = k;
      n.addEventListener("pointerdown", () => select(k));
      field(n, list === "zones" ? "zone id" : "mask id", input(it.id, (v) => (it.id = v), { name: "id" }));
      if (list === "zones") {
        field(n, "kind", choice(["stop", "warn"], it.kind, (v) => (it.kind = v))).name = "kind";
        field(n, "classes", input((it.classes || ["person"]).join(", "),
          (v) => (it.classes = v.split(",").map((s) => s.trim()).filter(Boolean)), { name: "classes" }));
        field(n, "min confidence", input(it.min_confidence ?? 0, (v) => (it.min_confidence = Number(v)),
          { type: "number", step: "0.05", name: "min_confidence" }));
      }
      const anchors = list === "zones" ? doc.anchors : doc.anchors.filter((a) => a !== "area_fraction");
      field(n, "anchor", choice(anchors, it.anchor || (list === "zones" ? "bottom_center" : "center"),
        (v) => (it.anchor = v))).name = "anchor";
      const del = document.createElement("button");
      del.textContent = "delete";
      del.className = "delete";
      del.addEventListener("click", () => { doc[list].splice(i, 1); selected = null; dirty(); refresh(); });
      n.appendChild(del);
      const err = document.createElement("div");
      err.className = "error";
      err.textContent = it._error || "";
      n.appendChild(err);
      box.appendChild(n);
    });
  }
}

function refresh() { panel(); draw(); }

function add(list, kind) {
  const ids = new Set([...doc.zones, ...doc.masks].map((z) => z.id));
  let n = 1;
  const base = list === "masks" ? "mask" : kind;
  while (ids.has(`${base}${n}`)) n++;
  const it = { id: `${base}${n}`, polygon_norm: [[0.4, 0.4], [0.6, 0.4], [0.6, 0.6], [0.4, 0.6]] };
  if (list === "zones") Object.assign(it, { kind, classes: ["person"], anchor: "bottom_center", min_confidence: 0.3 });
  else it.anchor = "center";
  doc[list].push(it);
  selected = key(list, doc[list].length - 1);
  dirty();
  refresh();
}

async function save() {
  for (const l of ["zones", "masks"]) doc[l].forEach((it) => delete it._error);
  document.getElementById("file-error").textContent = "";
  const strip = (it) => Object.fromEntries(Object.entries(it).filter(([k]) => !k.startsWith("_")));
  const body = JSON.stringify({ zones: doc.zones.map(strip), masks: doc.masks.map(strip) });
  setStatus("saving", "checking…");
  const r = await fetch("api/save", { method: "POST", body,
    headers: { "Content-Type": "application/json", "X-Editor-Session": doc.session } });
  const res = await r.json();
  if (res.ok) {
    setStatus("saved", `saved ${res.file} (sha256 ${res.sha256.slice(0, 12)}…); restart the box to use it`);
  } else {
    if (res.item) item(res.item)._error = res.message;
    else document.getElementById("file-error").textContent = res.message;
    setStatus("error", "not saved: " + (res.problem || res.message));
  }
  refresh();
}

async function main() {
  doc = await (await fetch("api/zones", { cache: "no-store" })).json();
  const name = document.getElementById("file");
  name.textContent = `${doc.file.split("/").pop()} (${doc.units}, camera ${doc.camera})`;
  name.title = doc.file;
  doc.masks = doc.masks || [];
  await img.decode().catch(() => {});
  size = [img.naturalWidth || 640, img.naturalHeight || 480];
  refresh();
  setStatus("clean", "no changes");
  document.getElementById("save").addEventListener("click", save);
  document.getElementById("add-stop").addEventListener("click", () => add("zones", "stop"));
  document.getElementById("add-warn").addEventListener("click", () => add("zones", "warn"));
  document.getElementById("add-mask").addEventListener("click", () => add("masks"));
  document.body.dataset.ready = "true";
}

main();
