// The editor's side panels: the selected stage or touchpoint (details, milestones, KPIs
// with targets, the events rule with its live preview), the map, the persona card, the
// history (versions, diff, restore) and the comments pinned to cells.

import { api, debounce } from "./api.js";
import { cellKey, commit, editor, el, mapId, newId, refresh, replaceMap, setStatus, t } from "./editor.js";

export const selection = { kind: null, si: null, ti: null, lane: null };
let activeTab = "item";
let personaIndex = 0;
let versions = [];
let diffText = null;

export function select(next, show = true) {
  const same = selection.kind === next.kind && selection.si === next.si && selection.ti === next.ti
    && selection.lane === (next.lane || null);
  Object.assign(selection, { kind: next.kind, si: next.si, ti: next.ti ?? null, lane: next.lane || null });
  const here = next.kind === "touchpoint" ? `stages[${next.si}].touchpoints[${next.ti}]` : null;
  for (const node of document.querySelectorAll(".ed-touchpoint")) {
    node.classList.toggle("is-selected", node.dataset.path === here);
  }
  if (show && activeTab !== "item" && activeTab !== "comments") openTab("item");
  if (!same) renderSidePanels();
}

function openTab(name) {
  activeTab = name;
  for (const tab of document.querySelectorAll(".tabs .tab")) {
    tab.setAttribute("aria-selected", String(tab.dataset.tab === name));
  }
  for (const panel of document.querySelectorAll(".tab-panel")) panel.hidden = panel.dataset.panel !== name;
  if (name === "history") loadVersions();
  if (name === "comments") loadComments();
  renderSidePanels();
}

for (const tab of document.querySelectorAll(".tabs .tab")) {
  tab.addEventListener("click", () => openTab(tab.dataset.tab));
  tab.addEventListener("keydown", (event) => {
    const tabs = [...document.querySelectorAll(".tabs .tab")];
    const i = tabs.indexOf(tab);
    if (event.key === "ArrowRight" || event.key === "ArrowLeft") {
      const next = tabs[(i + (event.key === "ArrowRight" ? 1 : tabs.length - 1)) % tabs.length];
      next.focus();
      openTab(next.dataset.tab);
    }
  });
}

// --- small form helpers ---------------------------------------------------------------

function field(label, value, onchange, { multiline = false, type = "text", path = null } = {}) {
  const input = el(multiline ? "textarea" : "input", { class: "panel-input", type: multiline ? null : type, rows: multiline ? 3 : null, "data-path": path });
  input.value = value ?? "";
  input.addEventListener("change", () => onchange(input.value));
  return el("label", { class: "panel-field" }, el("span", {}, label), input);
}

const listValue = (text) => text.split("\n").map((s) => s.trim()).filter(Boolean);
const put = (item, key, value) => { if (value === "" || value === null || (Array.isArray(value) && !value.length)) delete item[key]; else item[key] = value; };

function kpiEditor(owner, path) {
  const box = el("div", { class: "panel-list" }, el("h3", {}, t("kpis")));
  (owner.kpis || []).forEach((kpi, k) => {
    box.append(el("div", { class: "panel-row", "data-path": `${path}.kpis[${k}]` },
      field(t("kpi_id"), kpi.kpi, (v) => commit(() => { kpi.kpi = v.trim(); })),
      field(t("kpi_target"), kpi.target, (v) => commit(() => { put(kpi, "target", v === "" ? "" : Number(v)); }), { type: "number" }),
      field(t("kpi_unit"), kpi.unit, (v) => commit(() => { put(kpi, "unit", v.trim()); })),
      el("button", { type: "button", class: "button button-quiet button-danger", onclick: () => commit(() => { owner.kpis.splice(k, 1); if (!owner.kpis.length) delete owner.kpis; }) }, t("remove"))));
  });
  box.append(el("button", { type: "button", class: "button", onclick: () => commit(() => { owner.kpis = [...(owner.kpis || []), { kpi: "conversion_rate", target: 0 }]; }) }, `+ ${t("add_kpi")}`));
  return box;
}

function milestoneEditor(stage, si) {
  const box = el("div", { class: "panel-list" }, el("h3", {}, t("milestones")));
  (stage.milestones || []).forEach((milestone, m) => {
    box.append(el("div", { class: "panel-row", "data-path": `stages[${si}].milestones[${m}]` },
      field(t("name"), milestone.name, (v) => commit(() => { milestone.name = v; })),
      field(t("within"), milestone.within, (v) => commit(() => { put(milestone, "within", v.trim()); })),
      el("button", { type: "button", class: "button button-quiet button-danger", onclick: () => commit(() => { stage.milestones.splice(m, 1); if (!stage.milestones.length) delete stage.milestones; }) }, t("remove"))));
  });
  box.append(el("button", { type: "button", class: "button", onclick: () => commit(() => {
    const taken = new Set((stage.milestones || []).map((m) => m.id));
    stage.milestones = [...(stage.milestones || []), { id: newId("milestone", taken), name: t("new_milestone") }];
  }) }, `+ ${t("add_milestone")}`));
  return box;
}

// The rule editor of an `events:` block, with a live (debounced) count of what it matches.
function ruleEditor(owner, context) {
  const events = owner.events || {};
  const box = el("div", { class: "panel-list rule-editor" }, el("h3", {}, t("events_rule")));
  const names = el("input", { class: "panel-input", id: "rule-names", "aria-label": t("rule_names") });
  const channels = el("input", { class: "panel-input", id: "rule-channels", "aria-label": t("rule_channels") });
  const where = el("textarea", { class: "panel-input mono", id: "rule-where", rows: 2, "aria-label": t("rule_where") });
  names.value = (events.names || []).join(", ");
  channels.value = (events.channels || []).join(", ");
  where.value = events.where || "";
  const result = el("p", { class: "rule-result", role: "status", "aria-live": "polite", id: "rule-result" });
  const block = () => {
    const split = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);
    const out = {};
    if (split(names.value).length) out.names = split(names.value);
    if (split(channels.value).length) out.channels = split(channels.value);
    if (where.value.trim()) out.where = where.value.trim();
    return out;
  };
  const preview = debounce(async () => {
    const data = block();
    if (!Object.keys(data).length) { result.textContent = t("rule_empty"); return; }
    result.textContent = t("rule_checking");
    try {
      const found = await api("POST", `/api/maps/${mapId}/binding-preview`, { events: data });
      result.classList.remove("is-error");
      result.textContent = t("rule_matches", {
        events: found.events.toLocaleString(), customers: found.customers.toLocaleString(),
        total_events: found.total_events.toLocaleString(), total_customers: found.total_customers.toLocaleString(),
      }) + (found.top_events.length ? ` · ${found.top_events.map((e) => `${e.event} (${e.events})`).join(", ")}` : "");
    } catch (error) {
      result.classList.add("is-error");
      result.textContent = error.message;
    }
  }, 350);
  for (const input of [names, channels, where]) {
    input.addEventListener("input", preview);
    input.addEventListener("change", () => commit(() => { const data = block(); if (Object.keys(data).length) owner.events = data; else delete owner.events; }));
  }
  box.append(
    el("label", { class: "panel-field", for: "rule-names" }, el("span", {}, t("rule_names"))), names,
    el("label", { class: "panel-field", for: "rule-channels" }, el("span", {}, t("rule_channels"))), channels,
    el("label", { class: "panel-field", for: "rule-where" }, el("span", {}, t("rule_where"))), where,
    result,
  );
  preview();
  return box;
}

// --- the panels -----------------------------------------------------------------------

function itemPanel() {
  const panel = document.getElementById("panel-item");
  panel.replaceChildren();
  const map = editor.map;
  const stage = selection.si !== null ? map.stages[selection.si] : null;
  if (!stage) { panel.append(el("p", { class: "muted" }, t("select_hint"))); return; }
  if (selection.kind === "stage" || selection.ti === null) {
    const si = selection.si;
    panel.append(el("h2", {}, `${t("stage")}: ${stage.name}`),
      field(t("name"), stage.name, (v) => commit(() => { stage.name = v; }), { path: `stages[${si}].name` }),
      field(t("goal"), stage.goal, (v) => commit(() => { put(stage, "goal", v); }), { multiline: true }),
      field(t("description"), stage.description, (v) => commit(() => { put(stage, "description", v); }), { multiline: true }),
      milestoneEditor(stage, si), kpiEditor(stage, `stages[${si}]`));
    return;
  }
  const tp = stage.touchpoints[selection.ti];
  if (!tp) { panel.append(el("p", { class: "muted" }, t("select_hint"))); return; }
  const path = `stages[${selection.si}].touchpoints[${selection.ti}]`;
  panel.append(el("h2", {}, `${t("touchpoint")}: ${tp.name}`),
    field(t("name"), tp.name, (v) => commit(() => { tp.name = v; })),
    field(t("channel"), tp.channel, (v) => commit(() => { put(tp, "channel", v.trim()); })),
    field(t("description"), tp.description, (v) => commit(() => { put(tp, "description", v); }), { multiline: true }),
    field(t("emotion_label"), tp.emotion ? tp.emotion.label : "", (v) => commit(() => {
      if (!tp.emotion) tp.emotion = { score: 0 };
      put(tp.emotion, "label", v.trim());
    }), { path: `${path}.emotion.label` }),
    ruleEditor(tp, path), kpiEditor(tp, path));
}

function mapPanel() {
  const panel = document.getElementById("panel-map");
  panel.replaceChildren();
  const map = editor.map;
  panel.append(el("h2", {}, t("tab_map")),
    field(t("title"), map.title, (v) => commit(() => { map.title = v; }), { path: "title" }),
    field(t("description"), map.description, (v) => commit(() => { put(map, "description", v); }), { multiline: true, path: "description" }),
    field(t("goal"), map.goal, (v) => commit(() => { put(map, "goal", v); }), { multiline: true, path: "goal" }),
    field(t("owner"), map.owner, (v) => commit(() => { put(map, "owner", v); }), { path: "owner" }));
  const box = el("div", { class: "panel-list" }, el("h3", {}, t("departments")));
  map.departments.forEach((dept, d) => {
    box.append(el("div", { class: "panel-row", "data-path": `departments[${d}]` },
      el("code", {}, dept.id),
      field(t("name"), dept.name, (v) => commit(() => { dept.name = v; })),
      el("button", { type: "button", class: "button button-quiet button-danger", onclick: () => commit(() => { map.departments.splice(d, 1); }) }, t("remove"))));
  });
  box.append(el("button", { type: "button", class: "button", onclick: () => commit(() => {
    map.departments.push({ id: newId("team", new Set(map.departments.map((x) => x.id))), name: t("new_department") });
  }) }, `+ ${t("add_department")}`));
  panel.append(box);
}

function personaPanel() {
  const panel = document.getElementById("panel-persona");
  panel.replaceChildren();
  const personas = editor.map.personas;
  if (personaIndex >= personas.length) personaIndex = 0;
  if (personas.length > 1) {
    const chooser = el("select", { class: "panel-input", "aria-label": t("tab_persona") });
    personas.forEach((p, i) => chooser.append(el("option", { value: String(i), selected: i === personaIndex }, p.name)));
    chooser.addEventListener("change", () => { personaIndex = Number(chooser.value); personaPanel(); });
    panel.append(chooser);
  }
  const persona = personas[personaIndex];
  if (!persona) {
    panel.append(el("p", { class: "muted" }, t("no_persona")));
  } else {
    const p = `personas[${personaIndex}]`;
    panel.append(el("div", { class: "persona-card", "data-path": p },
      field(t("name"), persona.name, (v) => commit(() => { persona.name = v; }), { path: `${p}.name` }),
      field(t("role"), persona.role, (v) => commit(() => { put(persona, "role", v); })),
      field(t("quote"), persona.quote, (v) => commit(() => { put(persona, "quote", v); }), { multiline: true }),
      field(t("goals"), (persona.goals || []).join("\n"), (v) => commit(() => { put(persona, "goals", listValue(v)); }), { multiline: true }),
      field(t("challenges"), (persona.challenges || []).join("\n"), (v) => commit(() => { put(persona, "challenges", listValue(v)); }), { multiline: true }),
      el("button", { type: "button", class: "button button-quiet button-danger", onclick: () => commit((map) => { map.personas.splice(personaIndex, 1); }) }, t("remove"))));
  }
  panel.append(el("button", { type: "button", class: "button", onclick: () => commit((map) => {
    map.personas.push({ id: newId("persona", new Set(map.personas.map((x) => x.id))), name: t("new_persona") });
    personaIndex = map.personas.length - 1;
  }) }, `+ ${t("add_persona")}`));
}

async function loadVersions() {
  try {
    versions = (await api("GET", `/api/maps/${mapId}/versions`)).versions;
  } catch (error) {
    setStatus(error.message, "error");
  }
  historyPanel();
}

async function showDiff(number) {
  try {
    const found = await api("GET", `/api/maps/${mapId}/diff?from=${number}`);
    diffText = { number, changes: found.changes };
  } catch (error) {
    diffText = { number, changes: [{ text: error.message }] };
  }
  historyPanel();
}

async function restore(number) {
  if (editor.dirty && !window.confirm(t("confirm_restore_unsaved"))) return;
  try {
    const done = await api("POST", `/api/maps/${mapId}/versions/${number}/restore`);
    editor.version = done.version;
    replaceMap(done.map, false);
    setStatus(t("restored", { number, version: done.version }), "ok");
    diffText = null;
    loadVersions();
  } catch (error) {
    setStatus(error.message, "error");
  }
}

function historyPanel() {
  const panel = document.getElementById("panel-history");
  panel.replaceChildren(el("h2", {}, t("tab_history")));
  if (!versions.length) { panel.append(el("p", { class: "muted" }, t("no_versions"))); return; }
  const list = el("ol", { class: "version-list", reversed: true });
  for (const v of versions) {
    const when = new Date(v.created_at).toLocaleString(document.documentElement.lang);
    list.append(el("li", { class: "version", "data-version": String(v.number) },
      el("div", { class: "version-head" }, el("strong", {}, `v${v.number}`), " ", el("span", { class: "muted" }, `${v.author || t("unknown_author")} · ${when}`)),
      v.message ? el("div", { class: "muted" }, v.message) : null,
      el("div", { class: "button-group" },
        el("button", { type: "button", class: "button", onclick: () => showDiff(v.number) }, t("diff")),
        v.number !== editor.version ? el("button", { type: "button", class: "button", onclick: () => restore(v.number) }, t("restore")) : el("span", { class: "badge badge-neutral" }, t("current")))));
  }
  panel.append(list);
  if (diffText) {
    const box = el("div", { class: "diff-box", role: "region", "aria-label": t("diff") },
      el("h3", {}, t("diff_title", { number: diffText.number })));
    if (!diffText.changes.length) box.append(el("p", { class: "muted" }, t("no_changes")));
    const ul = el("ul", {});
    for (const change of diffText.changes) ul.append(el("li", {}, change.text));
    box.append(ul);
    panel.append(box);
  }
}

async function loadComments() {
  try {
    editor.comments = (await api("GET", `/api/maps/${mapId}/comments`)).comments;
  } catch (error) {
    setStatus(error.message, "error");
  }
  refresh();
}

function selectedCell() {
  const stage = selection.si !== null ? editor.map.stages[selection.si] : null;
  if (!stage) return "map";
  const tp = selection.ti !== null ? stage.touchpoints[selection.ti] : null;
  return cellKey(stage, tp, selection.lane);
}

function commentsPanel() {
  const panel = document.getElementById("panel-comments");
  panel.replaceChildren(el("h2", {}, t("tab_comments")));
  const cell = selectedCell();
  const form = el("form", { class: "comment-form" });
  const text = el("textarea", { class: "panel-input", rows: 3, required: true, id: "comment-text", "aria-label": t("comment_on", { cell }) });
  form.append(el("label", { for: "comment-text", class: "panel-field" }, el("span", {}, t("comment_on", { cell }))), text,
    el("button", { type: "submit", class: "button button-primary" }, t("add_comment")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", `/api/maps/${mapId}/comments`, { cell, body: text.value });
      text.value = "";
      loadComments();
    } catch (error) {
      setStatus(error.message, "error");
    }
  });
  panel.append(form);
  const list = el("ul", { class: "comment-list" });
  for (const comment of editor.comments) {
    list.append(el("li", { class: `comment${comment.resolved ? " is-resolved" : ""}${comment.cell === cell ? " is-here" : ""}` },
      el("div", { class: "muted" }, `${comment.author || t("unknown_author")} · ${comment.cell}`),
      el("p", {}, comment.body),
      comment.resolved ? el("span", { class: "badge badge-neutral" }, t("resolved"))
        : el("button", { type: "button", class: "button", onclick: async () => {
          try { await api("POST", `/api/maps/${mapId}/comments/${comment.id}/resolve`); loadComments(); } catch (error) { setStatus(error.message, "error"); }
        } }, t("resolve"))));
  }
  if (!editor.comments.length) list.append(el("li", { class: "muted" }, t("no_comments")));
  panel.append(list);
}

export function renderSidePanels() {
  if (!editor.map) return;
  // Keep a panel field someone is typing in; anything else is redrawn from the map.
  const focused = document.activeElement;
  const inPanel = focused && focused.matches && focused.matches("input, textarea, select")
    && focused.closest(".tab-panel");
  if (activeTab === "item" && !inPanel) itemPanel();
  if (activeTab === "map" && !inPanel) mapPanel();
  if (activeTab === "persona" && !inPanel) personaPanel();
  if (activeTab === "history") historyPanel();
  if (activeTab === "comments" && !inPanel) commentsPanel();
}

document.addEventListener("editor:saved", () => { if (activeTab === "history") loadVersions(); });

export async function loadCommentsQuietly() {
  try {
    editor.comments = (await api("GET", `/api/maps/${mapId}/comments`)).comments;
  } catch {
    editor.comments = [];
  }
  refresh();
}
