// The fleet page: polls /api/fleet once a second and redraws the table. Plain script, no build
// step. A bearer token, when the server needs one, is given in the fragment (#token=...).
"use strict";

const token = new URLSearchParams(location.hash.slice(1)).get("token");
const headers = token ? { Authorization: "Bearer " + token } : {};

function cell(text, attrs = {}) {
  const td = document.createElement("td");
  td.textContent = text;
  for (const [k, v] of Object.entries(attrs)) td.setAttribute(k, v);
  return td;
}

function when(t) {
  return t ? new Date(t * 1000).toLocaleTimeString() : "—";
}

function row(r) {
  const tr = document.createElement("tr");
  tr.dataset.box = r.box;
  tr.dataset.camera = r.camera || "";
  tr.dataset.online = r.online ? "yes" : "no";
  tr.appendChild(cell(r.box));
  tr.appendChild(cell(r.camera || "—"));
  tr.appendChild(cell("", { class: "dot", "data-online": r.online ? "yes" : "no" }));
  const permit = r.permit === null ? "unknown" : r.permit ? "on" : "off";
  tr.appendChild(cell(permit === "unknown" ? "—" : permit.toUpperCase(),
                      { class: "permit", "data-permit": permit }));
  tr.appendChild(cell(r.box_online ? (r.cause || "") : "box offline"));
  const trip = r.last_trip;
  tr.appendChild(cell(trip ? `${when(trip.t)} ${trip.zone || trip.cause}` : "—"));
  tr.appendChild(cell(trip && trip.response_ms != null ? `${trip.response_ms.toFixed(1)} ms` : "—"));
  tr.appendChild(cell(r.deployment || "—"));
  const td = document.createElement("td");
  if (r.page) {
    const a = document.createElement("a");
    a.href = r.page;
    a.textContent = "status page";
    td.appendChild(a);
  } else td.textContent = "—";
  tr.appendChild(td);
  return tr;
}

async function tick() {
  try {
    const r = await fetch("api/fleet", { headers, cache: "no-store" });
    if (!r.ok) throw new Error(r.status);
    const fleet = await r.json();
    document.getElementById("rows").replaceChildren(...fleet.rows.map(row));
    const s = document.getElementById("summary");
    s.dataset.boxes = fleet.boxes;
    s.dataset.online = fleet.online;
    s.dataset.offline = fleet.boxes - fleet.online;
    s.textContent = `${fleet.boxes} boxes: ${fleet.online} online, ${fleet.boxes - fleet.online} offline`;
    document.getElementById("lost").hidden = true;
  } catch (e) {
    document.getElementById("lost").hidden = false;
  }
  setTimeout(tick, 1000);
}

tick();
