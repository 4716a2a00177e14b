// The status page: polls /api/state and each camera's annotated view; draws zones, masks and
// the latency histogram as SVG. Plain script, no build step. A bearer token, when the box needs
// one, is given in the address's fragment (#token=...), which never reaches a server log.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const headers = token ? { Authorization: "Bearer " + token } : {};
const STATE_MS = 400;
const VIEW_MS = 200;
const cards = new Map();

async function fetchOk(path) {
  const r = await fetch(path, { headers, cache: "no-store" });
  if (r.status === 429 || r.status === 503) {  // the box is busy: wait as told, then go on
    const s = Number(r.headers.get("Retry-After")) || 1;
    await new Promise((done) => setTimeout(done, s * 1000));
  }
  if (!r.ok) throw new Error(path + ": HTTP " + r.status);
  return r;
}

function el(parent, name, attrs = {}, text = null) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  parent.appendChild(e);
  return e;
}

function setText(root, sel, text) {
  const e = root.querySelector(sel);
  if (e.textContent !== text) e.textContent = text;
}

const ms = (v) => (v === null || v === undefined ? "–" : v.toFixed(1) + " ms");
const hhmmss = (t) => new Date(t * 1000).toLocaleTimeString();

function describeCause(cam) {
  if (cam.permit) return "";
  let s = cam.cause || "tripped";
  if (cam.zone) s += " · zone " + cam.zone;
  return s + " · fault code " + cam.fault_code;
}

function card(cam) {
  let c = cards.get(cam.id);
  if (c) return c;
  const node = document.getElementById("camera-card").content.firstElementChild.cloneNode(true);
  node.dataset.camera = cam.id;
  node.querySelector(".cam-id").textContent = "camera " + cam.id;
  document.getElementById("cameras").appendChild(node);
  c = { node, shapes: new Map(), size: null };
  cards.set(cam.id, c);
  viewLoop(cam.id, node.querySelector("img.view"));
  return c;
}

function drawZones(c, cam) {
  const svg = c.node.querySelector("svg.overlay");
  const [w, h] = cam.size || [640, 480];
  if (!c.size || c.size[0] !== w || c.size[1] !== h) {
    svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
    svg.replaceChildren();
    c.shapes.clear();
    c.size = [w, h];
  }
  const items = [
    ...cam.zones.masks.map((m) => ({ ...m, kind: "mask" })),
    ...cam.zones.zones,
  ];
  for (const z of items) {
    let s = c.shapes.get(z.id);
    if (!s) {
      const pts = z.polygon.map(([x, y]) => `${x * w},${y * h}`).join(" ");
      const poly = el(svg, "polygon", { points: pts, "data-zone": z.id, "data-kind": z.kind,
                                        "data-points": JSON.stringify(z.polygon) });
      const [lx, ly] = z.polygon.reduce(([ax, ay], [x, y]) => [Math.min(ax, x), Math.min(ay, y)], [1, 1]);
      const label = el(svg, "text", { x: lx * w + 6, y: ly * h + 18 }, `${z.kind} ${z.id}`);
      s = { poly, label };
      c.shapes.set(z.id, s);
    }
    s.poly.setAttribute("class", z.state);
    s.poly.dataset.state = z.state;
  }
}

function drawHistogram(svg, hist, budget) {
  const W = 320, H = 90, top = 6, bottom = 16;
  const counts = [...hist.counts, hist.over_budget];
  const peak = Math.max(1, ...counts);
  const bw = W / counts.length;
  svg.replaceChildren();
  counts.forEach((n, i) => {
    const bh = ((H - top - bottom) * n) / peak;
    el(svg, "rect", { x: i * bw + 0.5, y: H - bottom - bh, width: bw - 1, height: bh,
                      class: i === counts.length - 1 ? "over" : "" });
  });
  el(svg, "text", { x: 2, y: H - 3 }, "0");
  el(svg, "text", { x: W - bw - 2, y: H - 3, "text-anchor": "end" }, `${budget} ms budget`);
  el(svg, "text", { x: 2, y: 12 }, `${peak} frames`);
}

function renderCamera(cam) {
  const c = card(cam);
  const n = c.node;
  const permit = n.querySelector(".permit");
  permit.dataset.permit = cam.permit ? "on" : "off";
  setText(n, ".permit", cam.permit ? "PERMIT ON" : "PERMIT OFF");
  const cause = n.querySelector(".cause");
  cause.dataset.cause = cam.permit ? "" : cam.cause || "";
  setText(n, ".cause", describeCause(cam) || "running: every stop zone clear");
  n.querySelector(".alive").dataset.alive = String(cam.alive);
  setText(n, ".fps", cam.fps.toFixed(1));
  setText(n, ".e2e-median", ms(cam.e2e_median_ms));
  setText(n, ".e2e-p99", ms(cam.e2e_p99_ms));
  setText(n, ".frames", String(cam.frames));
  setText(n, ".trips", String(cam.trips));
  drawZones(c, cam);
  drawHistogram(n.querySelector("svg.histogram"), cam.histogram, cam.budget_ms);
  const conv = n.querySelector(".conveyor");
  if (cam.conveyor) {
    conv.hidden = false;
    const k = cam.conveyor;
    conv.innerHTML = "";
    for (const [label, v] of [["items tracked", k.seen], ["defective", k.defective],
      ["verdicts", k.scheduled], ["pulses fired", k.fired], ["missed", k.missed],
      ["confirmed", k.confirmed], ["unconfirmed", k.unconfirmed], ["timing", k.timing_mode]]) {
      const d = document.createElement("div");
      d.innerHTML = "<dt></dt><dd></dd>";
      d.firstChild.textContent = label;
      d.lastChild.textContent = String(v);
      conv.appendChild(d);
    }
  }
}

function renderEvents(events) {
  const ol = document.getElementById("events");
  const have = new Set([...ol.children].map((li) => li.dataset.id));
  for (const ev of [...events].reverse()) {
    if (have.has(String(ev.id))) continue;
    const li = document.createElement("li");
    li.dataset.id = ev.id;
    li.dataset.event = ev.event;
    li.dataset.level = ev.level;
    const extra = ["camera", "cause", "zone", "reason", "response_ms", "ejector"]
      .filter((k) => ev[k] !== undefined && ev[k] !== null)
      .map((k) => `${k} ${ev[k]}`).join(" · ");
    const t = document.createElement("time");
    t.textContent = hhmmss(ev.t);
    li.append(t, `${ev.event}${extra ? " · " + extra : ""}`);
    ol.prepend(li);
  }
  while (ol.children.length > 100) ol.lastChild.remove();
}

function render(s) {
  document.getElementById("deployment").textContent = s.deployment.name;
  const p = document.getElementById("plc-permit");
  p.dataset.permit = s.plc.permit ? "on" : "off";
  p.textContent = s.plc.permit ? "PLC PERMIT ON" : "PLC PERMIT OFF";
  const link = document.getElementById("plc-link");
  link.dataset.connected = String(s.plc.connected);
  link.textContent = `${s.plc.connected ? "connected" : "LOST"} · ${s.plc.address}` +
    (s.plc.losses ? ` · lost ${s.plc.losses}×` : "");
  document.getElementById("plc-rtt").textContent = s.plc.rtt_ms === null ? "–" : s.plc.rtt_ms.toFixed(2) + " ms";
  document.getElementById("plc-fault").textContent = String(s.plc.fault_code);
  const r = s.last_reset;
  const lr = document.getElementById("last-reset");
  lr.textContent = !r ? "none yet" : r.event === "reset"
    ? `accepted at ${hhmmss(r.t)} (camera ${r.camera}, was ${r.cause})`
    : `refused at ${hhmmss(r.t)} by camera ${r.camera}: ${r.reason}` + (r.zone ? ` (zone ${r.zone})` : "");
  lr.dataset.event = r ? r.event : "";
  const th = document.getElementById("threads");
  const problems = s.threads.problems;
  th.dataset.ok = String(problems.length === 0);
  th.textContent = (problems.length
    ? problems.map((p) => `${p.kind.toUpperCase()} ${p.thread}`).join(", ") : "all cycling") +
    s.threads.inference.map((i) => ` · ${i.workers} inference worker(s): served ${i.served}, ` +
      `failed ${i.failed}, skipped ${i.skipped}`).join("");
  s.cameras.forEach(renderCamera);
  renderEvents(s.events);
  const files = document.getElementById("files");
  const rows = [["deployment " + s.deployment.file, s.deployment.sha256],
    ...s.cameras.map((c) => [`zones of ${c.id}: ${c.zones.source}`, c.zones.sha256])];
  const html = rows.map(([k, v]) => `<dt></dt><dd>${v}</dd>`).join("");
  if (files.dataset.html !== html) {
    files.innerHTML = html;
    [...files.querySelectorAll("dt")].forEach((dt, i) => (dt.textContent = rows[i][0]));
    files.dataset.html = html;
  }
}

async function stateLoop() {
  for (;;) {
    try {
      render(await (await fetchOk("api/state")).json());
      document.getElementById("offline").hidden = true;
    } catch (e) {
      document.getElementById("offline").hidden = false;
      await new Promise((r) => setTimeout(r, 1000));
    }
    await new Promise((r) => setTimeout(r, STATE_MS));
  }
}

async function viewLoop(id, img) {
  let url = null;
  for (;;) {
    try {
      const r = await fetchOk(`camera/${encodeURIComponent(id)}/frame.jpg`);
      const seq = r.headers.get("X-Frame-Seq");
      const next = URL.createObjectURL(await r.blob());
      img.src = next;
      await img.decode();
      if (url) URL.revokeObjectURL(url);
      url = next;
      img.dataset.seq = seq;
    } catch (e) {
      await new Promise((r) => setTimeout(r, 1000));
    }
    await new Promise((r) => setTimeout(r, VIEW_MS));
  }
}

stateLoop();
