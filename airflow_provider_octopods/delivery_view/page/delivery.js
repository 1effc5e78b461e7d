// The Delivery view's page: the days the user may read, then one day's figures, drawn as SVG.
// Every figure and its text come from the server (the provider's analytics): the page draws,
// it computes nothing but geometry.
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const COLOURS = {
  sent: "#f0ad4e", delivered: "#25d366", read: "#1f77b4", failed: "#d9534f", other: "#9467bd",
  unknown: "#7f7f7f", delivery_rate: "#25d366", read_rate: "#1f77b4", failure_rate: "#d9534f",
};
const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
const number = (n) => n.toLocaleString("en-US");

function el(parent, name, attrs = {}, text = null) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== null) node.textContent = text;
  parent.appendChild(node);
  return node;
}

function hover(node, text) {
  el(node, "title", {}, text);
  return node;
}

function reset(id, width, height) {
  const svg = $(id);
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("width", "100%");
  return svg;
}

async function fetchJson(path) {
  const answer = await fetch(path, { credentials: "same-origin" });
  if (!answer.ok) {
    let detail = answer.statusText;
    try { detail = (await answer.json()).detail || detail; } catch (e) { /* not JSON */ }
    throw new Error(`${answer.status}: ${detail}`);
  }
  return answer.json();
}

function say(text, error = false) {
  $("status").textContent = text;
  $("status").className = error ? "error" : "";
}

function bars(id, rows, label, colour, left = 200) {
  // Horizontal bars: rows of {value, text, hover}, labelled by label(row) left of the bars.
  const width = 560, row = 26;
  const svg = reset(id, width, Math.max(rows.length, 1) * row + 8);
  const most = Math.max(1, ...rows.map((r) => r.value));
  rows.forEach((r, i) => {
    const y = i * row + 4;
    hover(el(svg, "text", { x: left - 8, y: y + 16, "text-anchor": "end" }, label(r)), r.hover);
    const length = Math.max(1, ((width - left - 120) * r.value) / most);
    hover(el(svg, "rect", { x: left, y, width: length, height: row - 6, fill: colour(r) }), r.hover);
    el(svg, "text", { x: left + length + 6, y: y + 16 }, r.text);
  });
  if (!rows.length) el(svg, "text", { x: 8, y: 20, class: "muted" }, "none");
}

function drawHeadline(report) {
  $("headline").replaceChildren(...report.headline.map((h) => {
    const card = document.createElement("div");
    card.className = "card";
    card.title = h.definition;
    card.innerHTML = '<div class="value"></div><div class="name"></div>';
    card.querySelector(".value").textContent = h.text;
    card.querySelector(".name").textContent = h.name.replace("_", " ");
    card.dataset.name = h.name;
    return card;
  }));
}

function drawFunnel(report) {
  const messages = report.headline.find((h) => h.name === "messages").text;
  $("funnel-title").textContent = `Where the ${messages} messages stand (shares of all messages)`;
  bars("funnel", report.funnel.map((s) => ({
    ...s, value: s.messages, text: `${number(s.messages)} (${s.share})`,
    hover: `${s.stage}: ${number(s.messages)} messages, ${s.share} of all`,
  })), (s) => s.stage, (s) => COLOURS[s.stage]);
}

function drawLatency(report) {
  const rows = [];
  for (const p of report.latency) {
    for (const what of ["deliver", "read"]) {
      const v = p[what];
      rows.push({ p: p.percentile, what, value: v.seconds === null ? 0 : Math.log10(1 + v.seconds),
        text: v.text, hover: `time to ${what}, ${p.percentile}: ${v.text}` });
    }
  }
  bars("latency", rows, (r) => `time to ${r.what} ${r.p}`,
    (r) => (r.what === "deliver" ? COLOURS.delivered : COLOURS.read));
}

function drawReasons(report) {
  bars("reasons", report.reasons.slice(0, 8).map((r) => ({
    ...r, value: r.messages, text: number(r.messages), hover: `${r.reason}: ${number(r.messages)} messages`,
  })), (r) => (r.reason.length > 40 ? r.reason.slice(0, 39) + "…" : r.reason), () => COLOURS.failed, 290);
}

function drawHourly(report) {
  const hours = report.hourly, width = 560, height = 250, left = 40, right = 10, top = 24, bottom = 40;
  const svg = reset("hourly", width, height);
  const step = (width - left - right) / Math.max(hours.length, 1);
  const most = Math.max(1, ...hours.map((h) => h.messages));
  const yRate = (rate) => top + (height - top - bottom) * (1 - rate);
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    el(svg, "line", { x1: left, x2: width - right, y1: yRate(tick), y2: yRate(tick), stroke: "#eee" });
    el(svg, "text", { x: left - 4, y: yRate(tick) + 4, "text-anchor": "end", class: "muted" }, `${tick * 100}%`);
  }
  el(svg, "text", { x: width - 4, y: 14, "text-anchor": "end", class: "muted" }, `busiest hour: ${number(most)}`);
  hours.forEach((h, i) => {
    const x = left + i * step, barHeight = ((height - top - bottom) * h.messages) / most;
    hover(el(svg, "rect", { x: x + step * 0.15, y: height - bottom - barHeight, width: step * 0.7,
      height: barHeight, fill: "#d9d9d9", class: "hour" }),
    `${h.hour}: ${number(h.messages)} messages sent; delivery ${h.texts.delivery_rate}, ` +
      `read ${h.texts.read_rate}, failure ${h.texts.failure_rate}`);
    if (hours.length <= 12 || i % 2 === 0) {
      el(svg, "text", { x: x + step / 2, y: height - bottom + 16, "text-anchor": "middle", class: "muted" }, h.hour);
    }
  });
  ["delivery_rate", "read_rate", "failure_rate"].forEach((name, n) => {
    const points = hours.map((h, i) => [left + (i + 0.5) * step, h[name], h.texts[name]]).filter((p) => p[1] !== null);
    el(svg, "polyline", { points: points.map(([x, r]) => `${x},${yRate(r)}`).join(" "), fill: "none",
      stroke: COLOURS[name], "stroke-width": 2 });
    points.forEach(([x, r, text]) => hover(el(svg, "circle", { cx: x, cy: yRate(r), r: 3.5, fill: COLOURS[name] }),
      `${name.replace("_", " ")} ${text}`));
    el(svg, "text", { x: left + n * 110, y: 14, fill: COLOURS[name] }, `● ${name.replace("_", " ")}`);
  });
}

function drawDefinitions(report) {
  $("definitions").replaceChildren(...Object.entries(report.definitions).flatMap(([name, text]) => {
    const term = document.createElement("dt"), meaning = document.createElement("dd");
    term.textContent = name.replace("_", " ");
    meaning.textContent = text;
    return [term, meaning];
  }));
}

let asked = 0; // the latest day asked for: an earlier day's answer arriving later is dropped

async function showDay() {
  const asset = $("asset").value, runId = $("day").value, ticket = ++asked;
  say("Computing the day's figures…");
  $("report").hidden = true;
  try {
    const query = new URLSearchParams(runId ? { asset, run_id: runId } : { asset });
    const report = await fetchJson(`api/report?${query}`);
    if (ticket !== asked) return;
    for (const draw of [drawHeadline, drawFunnel, drawLatency, drawReasons, drawHourly, drawDefinitions]) draw(report);
    say(`${report.day}: run ${report.run_id} of DAG ${report.dag_id}`);
    $("report").hidden = false;
    history.replaceState(null, "", `?${query}`);
  } catch (error) {
    if (ticket === asked) say(`The report cannot be shown: ${error.message}`, true);
  }
}

function fillDays(snapshot, wanted) {
  $("day").replaceChildren(...snapshot.days.map((d) => new Option(`${d.day} (${d.run_id})`, d.run_id)));
  // A link to a run not listed (replaced, or not the user's to read): asked for all the same,
  // so that the server's answer says why it cannot be shown.
  if (wanted && !snapshot.days.some((d) => d.run_id === wanted)) $("day").prepend(new Option(wanted, wanted));
  if (wanted) $("day").value = wanted;
}

async function main() {
  let snapshots;
  try {
    snapshots = await fetchJson("api/snapshots");
  } catch (error) {
    return say(`The snapshots cannot be listed: ${error.message}`, true);
  }
  const wanted = params.get("asset");
  if (wanted && !snapshots.some((s) => s.uri === wanted)) snapshots.unshift({ uri: wanted, name: wanted, days: [] });
  if (!snapshots.length) return say("No snapshot you may read has been published yet.");
  $("asset").replaceChildren(...snapshots.map((s) => new Option(s.name.replace(/^octopods_message_statuses:/, ""), s.uri)));
  const byUri = Object.fromEntries(snapshots.map((s) => [s.uri, s]));
  if (wanted) $("asset").value = wanted;
  fillDays(byUri[$("asset").value], params.get("run_id"));
  $("asset").onchange = () => { fillDays(byUri[$("asset").value], null); showDay(); };
  $("day").onchange = showDay;
  await showDay();
}

main();
