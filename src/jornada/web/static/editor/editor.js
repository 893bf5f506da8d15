// The map editor: the swimlane grid edited in place, an undo/redo stack of the map's
// JSON, the emotion curve, side panels (item, map, persona, history, comments), save,
// import, and the live rule preview. No framework: the grid is redrawn from `map`
// after every change (maps are small), and focus is put back where it was.

import { api, ApiError, debounce } from "./api.js";
import { loadCommentsQuietly, renderSidePanels, selection, select } from "./panels.js";

const root = document.getElementById("editor");
const MAP_ID = root.dataset.mapId;
const T = JSON.parse(document.getElementById("editor-messages").textContent || "{}");
export const t = (key, params = {}) =>
  (T[key] || key).replace(/\{(\w+)\}/g, (_, name) => (name in params ? params[name] : `{${name}}`));

const LIST_LANES = ["actions", "questions", "motivations", "thoughts"];
const TEXT_ITEM_LANES = ["pain_points", "opportunities"];
const BUILTIN = [
  "touchpoints", "actions", "questions", "motivations", "thoughts", "emotion",
  "pain_points", "opportunities", "departments", "kpis", "milestones",
];
const COL = 200; // width of a touchpoint column, px (the emotion curve aligns to it)
const CURVE_H = 130;

export const editor = {
  map: null,
  version: null,
  past: [],
  future: [],
  dirty: false,
  problems: [],
  comments: [],
  living: null, // the living-map overlay (measures of the saved map), when shown
};

const grid = document.getElementById("grid");
const statusLine = document.getElementById("status");
const undoButton = document.getElementById("undo");
const redoButton = document.getElementById("redo");
const saveButton = document.getElementById("save");

export function setStatus(text, kind = "") {
  statusLine.textContent = text;
  statusLine.dataset.kind = kind;
}

// --- the history stack ----------------------------------------------------------------

const snapshot = () => JSON.stringify(editor.map);

// Apply `mutate` to the map as one undoable step.
export function commit(mutate) {
  const before = snapshot();
  mutate(editor.map);
  if (snapshot() === before) return;
  editor.past.push(before);
  if (editor.past.length > 200) editor.past.shift();
  editor.future = [];
  editor.dirty = true;
  refresh();
}

function undo() {
  if (!editor.past.length) return;
  editor.future.push(snapshot());
  editor.map = JSON.parse(editor.past.pop());
  editor.dirty = true;
  refresh();
  setStatus(t("undone"));
}

function redo() {
  if (!editor.future.length) return;
  editor.past.push(snapshot());
  editor.map = JSON.parse(editor.future.pop());
  editor.dirty = true;
  refresh();
  setStatus(t("redone"));
}

// Replace the whole map (loaded, restored or imported) as one undoable step.
export function replaceMap(data, undoable) {
  if (undoable && editor.map) editor.past.push(snapshot());
  editor.map = normalize(data);
  if (!undoable) {
    editor.past = [];
    editor.future = [];
  }
  editor.dirty = undoable;
  refresh();
}

// Stages in their drawn order, every list present: the editor edits positions, so an
// explicit `order` is folded into the array order.
function normalize(data) {
  const map = JSON.parse(JSON.stringify(data || {}));
  map.stages = Array.isArray(map.stages) ? map.stages : [];
  map.stages = map.stages
    .map((stage, index) => ({ stage, index }))
    .sort((a, b) => (a.stage.order ?? a.index) - (b.stage.order ?? b.index))
    .map(({ stage }) => {
      delete stage.order;
      stage.touchpoints = Array.isArray(stage.touchpoints) ? stage.touchpoints : [];
      return stage;
    });
  map.personas = Array.isArray(map.personas) ? map.personas : [];
  map.departments = Array.isArray(map.departments) ? map.departments : [];
  return map;
}

// --- ids ------------------------------------------------------------------------------

export function newId(prefix, taken) {
  let n = 1;
  while (taken.has(`${prefix}-${n}`)) n += 1;
  return `${prefix}-${n}`;
}

function allIds() {
  const ids = new Set();
  for (const stage of editor.map.stages) {
    ids.add(stage.id);
    for (const tp of stage.touchpoints) ids.add(tp.id);
  }
  return ids;
}

// --- moves (drag and drop and the keyboard buttons share them) ------------------------

function moveStage(from, to) {
  commit((map) => {
    if (to < 0 || to >= map.stages.length) return;
    const [stage] = map.stages.splice(from, 1);
    map.stages.splice(to, 0, stage);
  });
}

// Move touchpoint (si, ti) one step left/right; at a stage's edge it crosses into the
// neighbouring stage.
function stepTouchpoint(si, ti, step) {
  commit((map) => {
    const stages = map.stages;
    const list = stages[si].touchpoints;
    const target = ti + step;
    if (target >= 0 && target < list.length) {
      [list[ti], list[target]] = [list[target], list[ti]];
      return;
    }
    const next = si + step;
    if (next < 0 || next >= stages.length || list.length === 1) return;
    const [tp] = list.splice(ti, 1);
    if (step < 0) stages[next].touchpoints.push(tp);
    else stages[next].touchpoints.unshift(tp);
  });
}

function dropTouchpoint(fromS, fromT, toS, toT) {
  commit((map) => {
    const source = map.stages[fromS].touchpoints;
    if (source.length === 1 && fromS !== toS) return; // a stage keeps one touchpoint
    const [tp] = source.splice(fromT, 1);
    let index = toT;
    if (fromS === toS && fromT < toT) index -= 1;
    const target = map.stages[toS].touchpoints;
    target.splice(Math.max(0, Math.min(index, target.length)), 0, tp);
  });
}

// --- drawing the grid -----------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "class") node.className = value;
    else if (name === "text") node.textContent = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children) if (child) node.append(child);
  return node;
}
export { el };

function iconButton(label, symbol, onclick, extra = {}) {
  return el("button", { type: "button", class: "icon-button", "aria-label": label, title: label, onclick, ...extra }, symbol);
}

function lanes() {
  const declared = Array.isArray(editor.map.lanes) && editor.map.lanes.length
    ? editor.map.lanes
    : BUILTIN.map((id) => ({ id }));
  return declared.filter((lane) => !lane.hidden && lane.id !== "touchpoints");
}

function laneTitle(lane) {
  return lane.title || T[`lane.${lane.id}`] || lane.id;
}

export function cellKey(stage, tp, lane) {
  let key = `stage:${stage.id}`;
  if (tp) key += `/touchpoint:${tp.id}`;
  if (lane) key += `/lane:${lane}`;
  return key;
}

function editableText(value, label, path, onchange, multiline = false) {
  const field = el(multiline ? "textarea" : "input", {
    class: multiline ? "cell-input cell-textarea" : "cell-input",
    "aria-label": label,
    "data-path": path,
    rows: multiline ? 3 : null,
  });
  field.value = value || "";
  field.addEventListener("change", () => onchange(field.value));
  field.addEventListener("keydown", (event) => {
    if (!multiline && event.key === "Enter") field.blur();
  });
  return field;
}

const lines = (text) => text.split("\n").map((line) => line.trim()).filter(Boolean);

function laneCell(stage, si, tp, ti, lane) {
  const path = `stages[${si}].touchpoints[${ti}]`;
  const key = cellKey(stage, tp, lane.id);
  const label = `${laneTitle(lane)} · ${tp.name}`;
  const cell = el("div", { class: "ed-cell", "data-cell": key, "data-path": `${path}.${lane.id}` });
  let field;
  if (LIST_LANES.includes(lane.id)) {
    field = editableText((tp[lane.id] || []).join("\n"), label, `${path}.${lane.id}`,
      (value) => commit(() => { setList(tp, lane.id, lines(value)); }), true);
  } else if (TEXT_ITEM_LANES.includes(lane.id)) {
    field = editableText((tp[lane.id] || []).map((item) => item.text).join("\n"), label, `${path}.${lane.id}`,
      (value) => commit(() => {
        const old = tp[lane.id] || [];
        setList(tp, lane.id, lines(value).map((text, i) => ({ ...(old[i] || {}), text })));
      }), true);
  } else if (lane.id === "departments") {
    field = editableText((tp.departments || []).join(", "), label, `${path}.departments`,
      (value) => commit(() => { setList(tp, "departments", value.split(",").map((s) => s.trim()).filter(Boolean)); }));
  } else if (lane.id === "kpis") {
    const kpis = tp.kpis || [];
    field = el("button", { type: "button", class: "cell-summary", onclick: () => select({ kind: "touchpoint", si, ti }) },
      kpis.length ? kpis.map((k) => `${k.kpi}${k.target !== undefined ? ` → ${k.target}` : ""}`).join(", ") : "—");
  } else {
    field = editableText((tp.cells || {})[lane.id] || "", label, `${path}.cells.${lane.id}`,
      (value) => commit(() => {
        tp.cells = tp.cells || {};
        if (value.trim()) tp.cells[lane.id] = value; else delete tp.cells[lane.id];
        if (!Object.keys(tp.cells).length) delete tp.cells;
      }), true);
  }
  field.addEventListener("focus", () => select({ kind: "touchpoint", si, ti, lane: lane.id }, false));
  cell.append(field);
  return cell;
}

function setList(item, field, values) {
  if (values.length) item[field] = values; else delete item[field];
}

function stageHeader(stage, si) {
  const count = editor.map.stages.length;
  const header = el("div", {
    class: "ed-stage",
    "data-path": `stages[${si}]`,
    "data-cell": cellKey(stage),
    draggable: "true",
    style: `grid-column: span ${Math.max(1, stage.touchpoints.length)}`,
  });
  const name = editableText(stage.name, t("stage_name"), `stages[${si}].name`,
    (value) => commit(() => { stage.name = value; }));
  name.classList.add("stage-name");
  name.addEventListener("focus", () => select({ kind: "stage", si }, false));
  const tools = el("div", { class: "ed-tools" },
    iconButton(t("move_left"), "◀", () => moveStage(si, si - 1), { disabled: si === 0 }),
    iconButton(t("move_right"), "▶", () => moveStage(si, si + 1), { disabled: si === count - 1 }),
    iconButton(t("add_touchpoint"), "+", () => addTouchpoint(si)),
    iconButton(t("delete_stage"), "✕", () => deleteStage(si), { class: "icon-button danger", disabled: count === 1 }),
  );
  header.append(el("span", { class: "drag-handle", "aria-hidden": "true" }, "⠿"), name, tools);
  header.addEventListener("dragstart", (event) => {
    if (event.target !== header) return;
    event.dataTransfer.setData("application/x-jornada-stage", String(si));
    event.dataTransfer.effectAllowed = "move";
  });
  header.addEventListener("dragover", (event) => {
    const types = event.dataTransfer.types;
    if (types.includes("application/x-jornada-stage") || types.includes("application/x-jornada-touchpoint")) {
      event.preventDefault();
      header.classList.add("drop-target");
    }
  });
  header.addEventListener("dragleave", () => header.classList.remove("drop-target"));
  header.addEventListener("drop", (event) => {
    event.preventDefault();
    header.classList.remove("drop-target");
    const fromStage = event.dataTransfer.getData("application/x-jornada-stage");
    const fromTp = event.dataTransfer.getData("application/x-jornada-touchpoint");
    if (fromStage !== "") moveStage(Number(fromStage), si);
    else if (fromTp) {
      const [fs, ft] = fromTp.split(":").map(Number);
      dropTouchpoint(fs, ft, si, stage.touchpoints.length);
    }
  });
  return header;
}

function touchpointHeader(stage, si, tp, ti, isFirst, isLast) {
  const selected = selection.kind === "touchpoint" && selection.si === si && selection.ti === ti;
  const header = el("div", {
    class: `ed-touchpoint${selected ? " is-selected" : ""}`,
    "data-path": `stages[${si}].touchpoints[${ti}]`,
    "data-cell": cellKey(stage, tp),
    draggable: "true",
  });
  const name = editableText(tp.name, t("touchpoint_name"), `stages[${si}].touchpoints[${ti}].name`,
    (value) => commit(() => { tp.name = value; }));
  name.classList.add("touchpoint-name");
  name.addEventListener("focus", () => select({ kind: "touchpoint", si, ti }, false));
  const channel = el("span", { class: "channel-tag" }, tp.channel || "");
  const tools = el("div", { class: "ed-tools" },
    iconButton(t("move_left"), "◀", () => stepTouchpoint(si, ti, -1), { disabled: isFirst }),
    iconButton(t("move_right"), "▶", () => stepTouchpoint(si, ti, 1), { disabled: isLast }),
    iconButton(t("details"), "⋯", () => select({ kind: "touchpoint", si, ti })),
    iconButton(t("delete_touchpoint"), "✕", () => deleteTouchpoint(si, ti),
      { class: "icon-button danger", disabled: stage.touchpoints.length === 1 }),
  );
  header.append(el("span", { class: "drag-handle", "aria-hidden": "true" }, "⠿"), name, channel, tools);
  if (editor.living) header.append(livingLine(tp));
  header.addEventListener("dragstart", (event) => {
    if (event.target !== header) return;
    event.dataTransfer.setData("application/x-jornada-touchpoint", `${si}:${ti}`);
    event.dataTransfer.effectAllowed = "move";
    header.classList.add("dragging");
  });
  header.addEventListener("dragend", () => header.classList.remove("dragging"));
  header.addEventListener("dragover", (event) => {
    if (event.dataTransfer.types.includes("application/x-jornada-touchpoint")) {
      event.preventDefault();
      header.classList.add("drop-target");
    }
  });
  header.addEventListener("dragleave", () => header.classList.remove("drop-target"));
  header.addEventListener("drop", (event) => {
    event.preventDefault();
    event.stopPropagation();
    header.classList.remove("drop-target");
    const from = event.dataTransfer.getData("application/x-jornada-touchpoint");
    if (!from) return;
    const [fs, ft] = from.split(":").map(Number);
    dropTouchpoint(fs, ft, si, ti);
  });
  return header;
}

const percent = (share) => (share === null || share === undefined ? "–" : `${Math.round(share * 100)}%`);

// The measures of one touchpoint under its name (the living-map overlay).
function livingLine(tp) {
  const m = editor.living.touchpoints[tp.id];
  if (!m) return el("div", { class: "living-line muted" }, t("living_unbound"));
  const line = el("div", { class: `living-line evidence-${m.evidence}`, title: (m.finding_messages || []).join("\n") },
    el("span", {}, t("living_customers", { count: m.customers.toLocaleString() })),
    el("span", {}, `${t("living_reach")} ${percent(m.reach)}`),
    el("span", {}, `${t("living_exit")} ${percent(m.exit_rate)}`));
  if (m.findings) line.append(el("span", { class: "living-findings" }, `⚑ ${m.findings}`));
  return line;
}

async function toggleLiving() {
  const button = document.getElementById("living-toggle");
  if (editor.living) {
    editor.living = null;
    button.setAttribute("aria-pressed", "false");
    refresh();
    return;
  }
  setStatus(t("living_loading"));
  try {
    editor.living = await api("GET", `/api/maps/${MAP_ID}/living`);
    button.setAttribute("aria-pressed", "true");
    setStatus(t("living_shown", { customers: editor.living.total_customers.toLocaleString() }), "ok");
    refresh();
  } catch (error) {
    setStatus(error.message, "error");
  }
}

function addStage() {
  commit((map) => {
    const ids = allIds();
    const stageId = newId("stage", ids);
    ids.add(stageId);
    map.stages.push({
      id: stageId,
      name: t("new_stage"),
      touchpoints: [{ id: newId("touchpoint", ids), name: t("new_touchpoint") }],
    });
  });
}

function addTouchpoint(si) {
  commit((map) => {
    map.stages[si].touchpoints.push({ id: newId("touchpoint", allIds()), name: t("new_touchpoint") });
  });
}

function deleteStage(si) {
  if (!window.confirm(t("confirm_delete_stage", { name: editor.map.stages[si].name }))) return;
  commit((map) => { map.stages.splice(si, 1); });
}

function deleteTouchpoint(si, ti) {
  commit((map) => { map.stages[si].touchpoints.splice(ti, 1); });
}

// --- the emotion curve ----------------------------------------------------------------

// Scores outside -2..+2 (an imported file with a problem) are drawn at the edge.
const yOf = (score) => CURVE_H / 2 - Math.max(-2.4, Math.min(2.4, score)) * 25;
const scoreOf = (y) => Math.max(-2, Math.min(2, Math.round((CURVE_H / 2 - y) / 25)));

function emotionCurve(columns) {
  const width = columns.length * COL;
  const svgNS = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(svgNS, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} ${CURVE_H}`);
  svg.setAttribute("width", width);
  svg.setAttribute("height", CURVE_H);
  svg.setAttribute("class", "emotion-curve");
  svg.setAttribute("role", "group");
  svg.setAttribute("aria-label", t("emotion_curve"));
  for (const score of [-2, -1, 0, 1, 2]) {
    const line = document.createElementNS(svgNS, "line");
    line.setAttribute("x1", 0); line.setAttribute("x2", width);
    line.setAttribute("y1", yOf(score)); line.setAttribute("y2", yOf(score));
    line.setAttribute("class", score === 0 ? "axis zero" : "axis");
    svg.append(line);
  }
  const points = columns.map(({ tp }, i) => [i * COL + COL / 2, yOf(tp.emotion ? tp.emotion.score : 0), !!tp.emotion]);
  const measured = points.filter((p) => p[2]);
  if (measured.length > 1) {
    const path = document.createElementNS(svgNS, "polyline");
    path.setAttribute("points", measured.map((p) => `${p[0]},${p[1]}`).join(" "));
    path.setAttribute("class", "curve");
    svg.append(path);
  }
  if (editor.living) {
    const measuredPoints = columns
      .map(({ tp }, i) => [i * COL + COL / 2, (editor.living.touchpoints[tp.id] || {}).measured_emotion])
      .filter(([, value]) => value !== null && value !== undefined);
    if (measuredPoints.length) {
      const line = document.createElementNS(svgNS, "polyline");
      line.setAttribute("points", measuredPoints.map(([x, value]) => `${x},${yOf(value)}`).join(" "));
      line.setAttribute("class", "measured-curve");
      svg.append(line);
      for (const [x, value] of measuredPoints) {
        const mark = document.createElementNS(svgNS, "rect");
        mark.setAttribute("x", x - 5); mark.setAttribute("y", yOf(value) - 5);
        mark.setAttribute("width", 10); mark.setAttribute("height", 10);
        mark.setAttribute("class", "measured-point");
        svg.append(mark);
      }
    }
  }
  columns.forEach(({ stage, si, tp, ti }, i) => {
    const [x, y, has] = points[i];
    const score = tp.emotion ? tp.emotion.score : null;
    const dot = document.createElementNS(svgNS, "circle");
    dot.setAttribute("cx", x); dot.setAttribute("cy", y); dot.setAttribute("r", 9);
    dot.setAttribute("class", `emotion-point${has ? "" : " unset"}${score !== null && score < 0 ? " negative" : ""}`);
    dot.setAttribute("tabindex", "0");
    dot.setAttribute("role", "slider");
    dot.setAttribute("aria-label", `${t("emotion")} · ${tp.name}`);
    dot.setAttribute("aria-valuemin", "-2");
    dot.setAttribute("aria-valuemax", "2");
    dot.setAttribute("aria-valuenow", score === null ? "0" : String(score));
    dot.setAttribute("aria-valuetext", score === null ? t("no_emotion") : String(score));
    dot.dataset.path = `stages[${si}].touchpoints[${ti}].emotion`;
    dot.dataset.cell = cellKey(stage, tp, "emotion");
    const setScore = (value) => commit(() => {
      tp.emotion = { ...(tp.emotion || {}), score: value };
    });
    dot.addEventListener("keydown", (event) => {
      const now = score === null ? 0 : score;
      if (event.key === "ArrowUp" || event.key === "ArrowRight") { event.preventDefault(); setScore(Math.min(2, now + 1)); }
      else if (event.key === "ArrowDown" || event.key === "ArrowLeft") { event.preventDefault(); setScore(Math.max(-2, now - 1)); }
      else if (event.key === "Home") setScore(2);
      else if (event.key === "End") setScore(-2);
    });
    dot.addEventListener("pointerdown", (event) => {
      event.preventDefault();
      dot.setPointerCapture(event.pointerId);
      const box = svg.getBoundingClientRect();
      const scale = CURVE_H / box.height;
      const move = (e) => {
        const local = (e.clientY - box.top) * scale;
        dot.setAttribute("cy", yOf(scoreOf(local)));
      };
      const up = (e) => {
        dot.removeEventListener("pointermove", move);
        dot.removeEventListener("pointerup", up);
        const value = scoreOf((e.clientY - box.top) * scale);
        if (value !== score) setScore(value);
        else select({ kind: "touchpoint", si, ti, lane: "emotion" });
      };
      dot.addEventListener("pointermove", move);
      dot.addEventListener("pointerup", up);
    });
    svg.append(dot);
    const label = document.createElementNS(svgNS, "text");
    label.setAttribute("x", x); label.setAttribute("y", Math.min(CURVE_H - 4, y + 24));
    label.setAttribute("class", "emotion-label");
    label.textContent = tp.emotion && tp.emotion.label ? tp.emotion.label : "";
    svg.append(label);
  });
  return svg;
}

// --- the whole grid -------------------------------------------------------------------

function drawGrid() {
  const map = editor.map;
  const columns = [];
  map.stages.forEach((stage, si) => stage.touchpoints.forEach((tp, ti) => columns.push({ stage, si, tp, ti })));
  const n = Math.max(1, columns.length);
  grid.style.gridTemplateColumns = `160px repeat(${n}, ${COL}px) 120px`;
  grid.replaceChildren();
  const corner = el("div", { class: "ed-corner" }, t("stages"));
  grid.append(corner);
  map.stages.forEach((stage, si) => grid.append(stageHeader(stage, si)));
  grid.append(el("div", { class: "ed-add-stage" },
    el("button", { type: "button", class: "button", onclick: addStage, id: "add-stage" }, `+ ${t("add_stage")}`)));

  grid.append(el("div", { class: "ed-lane-title" }, t("lane_touchpoints")));
  map.stages.forEach((stage, si) => stage.touchpoints.forEach((tp, ti) => {
    grid.append(touchpointHeader(stage, si, tp, ti, si === 0 && ti === 0,
      si === map.stages.length - 1 && ti === stage.touchpoints.length - 1));
  }));
  grid.append(el("div"));

  for (const lane of lanes()) {
    grid.append(el("div", { class: "ed-lane-title" }, laneTitle(lane)));
    if (lane.id === "emotion") {
      const row = el("div", { class: "ed-emotion", style: `grid-column: span ${n}` });
      row.append(emotionCurve(columns));
      grid.append(row);
    } else if (lane.id === "milestones") {
      map.stages.forEach((stage, si) => {
        const names = (stage.milestones || []).map((m) => m.name).join(", ");
        grid.append(el("div", { class: "ed-cell ed-stage-cell", style: `grid-column: span ${Math.max(1, stage.touchpoints.length)}`, "data-path": `stages[${si}].milestones`, "data-cell": cellKey(stage, null, "milestones") },
          el("button", { type: "button", class: "cell-summary", onclick: () => select({ kind: "stage", si }) }, names || "—")));
      });
    } else {
      columns.forEach(({ stage, si, tp, ti }) => grid.append(laneCell(stage, si, tp, ti, lane)));
    }
    grid.append(el("div"));
  }
  markComments();
  markProblems();
}

// A redraw (a save, comments arriving) must not eat what is being typed: a text field's
// edit is committed on `change`, so until then the focused field alone holds it. Its
// text and caret move over to the field that replaces it.
function restoreFocus(path, typing) {
  if (!path) return;
  const again = grid.querySelector(`[data-path="${CSS.escape(path)}"]`);
  if (!again || typeof again.focus !== "function") return;
  if (typing && "value" in again && again.tagName === typing.tagName) {
    again.value = typing.value;
    again.focus({ preventScroll: true });
    again.setSelectionRange(typing.start, typing.end, typing.direction);
    return;
  }
  again.focus({ preventScroll: true });
}

function typingIn(field) {
  if (!(field instanceof HTMLInputElement || field instanceof HTMLTextAreaElement)) return null;
  if (field.type && !["text", "search", "textarea", "url", "email"].includes(field.type)) return null;
  return {
    tagName: field.tagName,
    value: field.value,
    start: field.selectionStart,
    end: field.selectionEnd,
    direction: field.selectionDirection || "none",
  };
}

export function refresh() {
  const focused = document.activeElement;
  const inGrid = focused && grid.contains(focused);
  const path = inGrid ? focused.dataset.path : null;
  const typing = inGrid ? typingIn(focused) : null;
  drawGrid();
  restoreFocus(path, typing);
  document.getElementById("editor-title").textContent = editor.map.title || MAP_ID;
  undoButton.disabled = !editor.past.length;
  redoButton.disabled = !editor.future.length;
  saveButton.classList.toggle("is-dirty", editor.dirty);
  renderSidePanels();
}

// --- comments and problems shown at their cells ---------------------------------------

function markComments() {
  const open = new Map();
  for (const comment of editor.comments) {
    if (!comment.resolved) open.set(comment.cell.split("/lane:")[0], (open.get(comment.cell.split("/lane:")[0]) || 0) + 1);
  }
  for (const node of grid.querySelectorAll(".ed-touchpoint, .ed-stage")) {
    const count = open.get(node.dataset.cell);
    if (count) node.append(el("span", { class: "comment-badge", title: t("open_comments", { count }) }, `💬 ${count}`));
  }
}

// The element showing `path` (the longest data-path that is a prefix of it).
function elementFor(path) {
  let best = null;
  let length = -1;
  for (const node of root.querySelectorAll("[data-path]")) {
    const own = node.dataset.path;
    if ((path === own || path.startsWith(`${own}.`) || path.startsWith(`${own}[`)) && own.length > length) {
      best = node;
      length = own.length;
    }
  }
  return best;
}

function markProblems() {
  const list = document.getElementById("problem-list");
  const box = document.getElementById("problems");
  list.replaceChildren();
  box.hidden = !editor.problems.length;
  for (const problem of editor.problems) {
    const target = problem.path ? elementFor(problem.path) : null;
    const cell = target ? target.closest(".ed-cell, .ed-touchpoint, .ed-stage, .ed-emotion") || target : null;
    if (cell) {
      cell.classList.add("has-problem");
      cell.setAttribute("title", problem.message);
    }
    if (target && target instanceof SVGElement) target.classList.add("has-problem");
    const text = `${problem.path ? `${problem.path}: ` : ""}${problem.message}${problem.hint ? ` (${problem.hint})` : ""}`;
    const item = el("li", {}, target
      ? el("button", { type: "button", class: "link-button", onclick: () => (target.focus ? target.focus() : null) }, text)
      : text);
    list.append(item);
  }
}

export function showProblems(problems) {
  editor.problems = problems || [];
  refresh();
  if (editor.problems.length) setStatus(t("has_problems", { count: editor.problems.length }), "error");
}

// --- save, import, load ---------------------------------------------------------------

async function save() {
  saveButton.disabled = true;
  setStatus(t("saving"));
  try {
    const saved = await api("PUT", `/api/maps/${MAP_ID}`, { map: editor.map, base_version: editor.version });
    editor.version = saved.version;
    editor.dirty = false;
    editor.problems = [];
    refresh();
    setStatus(t("saved", { number: saved.version }), "ok");
    document.dispatchEvent(new CustomEvent("editor:saved"));
    if (editor.living) { editor.living = null; toggleLiving(); }
  } catch (error) {
    if (error instanceof ApiError && error.body.problems) showProblems(error.body.problems);
    else setStatus(error.message, "error");
  } finally {
    saveButton.disabled = false;
  }
}

async function importFile(file) {
  if (!file) return;
  if (file.size > 5 * 1024 * 1024) { setStatus(t("too_large"), "error"); return; }
  const text = await file.text();
  try {
    const checked = await api("POST", `/api/maps/${MAP_ID}/validate`, { text });
    if (!checked.map) { showProblems(checked.problems); return; }
    const data = { ...checked.map, id: MAP_ID };
    replaceMap(data, true);
    if (checked.valid) { editor.problems = []; refresh(); setStatus(t("imported"), "ok"); }
    else showProblems(checked.problems);
  } catch (error) {
    setStatus(error.message, "error");
  }
}

async function load() {
  try {
    const data = await api("GET", `/api/maps/${MAP_ID}`);
    editor.version = data.version;
    if (!data.map) {
      setStatus(t("cannot_edit"), "error");
      editor.map = normalize({ id: MAP_ID, title: MAP_ID, stages: [] });
      showProblems(data.problems);
      return;
    }
    replaceMap(data.map, false);
    setStatus(editor.version ? t("at_version", { number: editor.version }) : t("never_saved"));
    loadCommentsQuietly();
  } catch (error) {
    setStatus(error.message, "error");
  }
}

undoButton.addEventListener("click", undo);
redoButton.addEventListener("click", redo);
saveButton.addEventListener("click", save);
document.getElementById("living-toggle").addEventListener("click", toggleLiving);
document.getElementById("import-file").addEventListener("change", (event) => importFile(event.target.files[0]));
document.addEventListener("keydown", (event) => {
  if (!(event.ctrlKey || event.metaKey)) return;
  const key = event.key.toLowerCase();
  const inField = event.target.matches && event.target.matches("input, textarea");
  if (key === "s") { event.preventDefault(); save(); }
  else if (!inField && key === "z" && !event.shiftKey) { event.preventDefault(); undo(); }
  else if (!inField && (key === "y" || (key === "z" && event.shiftKey))) { event.preventDefault(); redo(); }
});
window.addEventListener("beforeunload", (event) => {
  if (editor.dirty) event.preventDefault();
});

export const mapId = MAP_ID;
export const reload = load;
export { debounce };
load();
