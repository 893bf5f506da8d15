// A dashboard page: read the form, fetch each panel's analysis from the JSON API and
// draw it (Plotly figures as the API gives them; tables built with DOM nodes, never
// HTML strings). The funnel builder adds a step picker over events, touchpoints and
// stages of a map. The form's state lives in the URL, so a dashboard can be shared.

const form = document.getElementById("dash-form");
const statusLine = document.getElementById("dash-status");
const choices = JSON.parse(form.dataset.choices);
const messages = JSON.parse(form.dataset.messages);
const panels = Array.from(document.querySelectorAll(".dash-panel"));
let generation = 0;

// --- the step picker (funnel) ---------------------------------------------------------

const stepList = document.getElementById("step-list");
const stepSource = document.getElementById("step-source");
const stepChoice = document.getElementById("step-choice");
const mapSelect = document.getElementById("dash-map");

function currentMap() {
  const id = mapSelect ? mapSelect.value : "";
  return choices.maps.find((item) => item.id === id) || null;
}

function fillStepChoices() {
  if (!stepChoice) return;
  const map = currentMap();
  for (const option of stepSource.options) {
    option.disabled = option.value !== "events" && map === null;
  }
  if (stepSource.selectedOptions[0] && stepSource.selectedOptions[0].disabled) {
    stepSource.value = "events";
  }
  let items;
  if (stepSource.value === "touchpoints" && map) {
    items = map.touchpoints.map((tp) => [tp.id, `${tp.stage} › ${tp.name}`]);
  } else if (stepSource.value === "stages" && map) {
    items = map.stages.map((stage) => [stage.id, stage.name]);
  } else {
    items = choices.events.map((item) => [item.event, `${item.event} (${item.count})`]);
  }
  stepChoice.replaceChildren(
    ...items.map(([value, label]) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = label;
      return option;
    }),
  );
}

function addStep(value) {
  if (!stepList || !value) return;
  const item = document.createElement("li");
  item.className = "step-chip";
  const label = document.createElement("span");
  label.textContent = value;
  const input = document.createElement("input");
  input.type = "hidden";
  input.name = "steps";
  input.value = value;
  const remove = document.createElement("button");
  remove.type = "button";
  remove.className = "step-remove";
  remove.textContent = "×";
  remove.setAttribute("aria-label", `${messages.remove}: ${value}`);
  remove.addEventListener("click", () => item.remove());
  item.append(label, input, remove);
  stepList.append(item);
}

if (stepList) {
  stepSource.addEventListener("change", fillStepChoices);
  if (mapSelect) mapSelect.addEventListener("change", fillStepChoices);
  document.getElementById("step-add").addEventListener("click", () => addStep(stepChoice.value));
  fillStepChoices();
}

// --- the form and the URL ---------------------------------------------------------------

function formParams() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (typeof value === "string" && value.trim() !== "") params.append(name, value.trim());
  }
  return params;
}

function restoreFromUrl() {
  const params = new URLSearchParams(window.location.search);
  for (const name of new Set(params.keys())) {
    const values = params.getAll(name);
    if (name === "steps" && stepList) {
      values.forEach(addStep);
      continue;
    }
    const field = form.elements.namedItem(name);
    if (!field) continue;
    if (field instanceof HTMLSelectElement && field.multiple) {
      for (const option of field.options) option.selected = values.includes(option.value);
    } else if ("value" in field) {
      field.value = values[0];
    }
  }
  if (mapSelect) fillStepChoices();
}

// --- drawing ----------------------------------------------------------------------------

function say(panel, text, isError = false) {
  const line = panel.querySelector(".dash-message");
  line.textContent = text;
  line.hidden = text === "";
  line.classList.toggle("alert", isError);
  line.classList.toggle("alert-error", isError);
  line.setAttribute("role", isError ? "alert" : "status");
}

async function fetchJson(url) {
  const response = await fetch(url, { headers: { Accept: "application/json" } });
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.error ? body.error.message : `${response.status}`;
    throw new Error(message);
  }
  return body;
}

function drawTable(target, table) {
  const element = document.createElement("table");
  element.className = "map-table dash-data-table";
  const head = element.createTHead().insertRow();
  for (const column of table.columns) {
    const cell = document.createElement("th");
    cell.scope = "col";
    cell.textContent = column;
    head.append(cell);
  }
  const body = element.createTBody();
  for (const row of table.rows) {
    const line = body.insertRow();
    for (const value of row) {
      const cell = line.insertCell();
      if (typeof value === "number") {
        cell.className = "num";
        cell.textContent = Number.isInteger(value)
          ? value.toLocaleString()
          : value.toLocaleString(undefined, { maximumFractionDigits: 3 });
      } else {
        cell.textContent = value === null ? "" : Array.isArray(value) ? value.join(" › ") : String(value);
      }
    }
  }
  const note = document.createElement("p");
  note.className = "muted small";
  note.textContent = messages.rows.replace("{shown}", table.rows.length).replace("{total}", table.total);
  target.replaceChildren(element, note);
}

async function drawPanel(panel, params, run) {
  const extra = JSON.parse(panel.dataset.params || "{}");
  const query = new URLSearchParams(params);
  for (const [name, value] of Object.entries(extra)) query.set(name, value);
  const kind = panel.dataset.kind;
  query.set("format", kind === "chart" ? "plotly" : "table");
  const api = `/api/analyses/${panel.dataset.analysis}`;
  const csv = panel.querySelector(".dash-csv");
  say(panel, messages.loading);
  panel.setAttribute("aria-busy", "true");
  try {
    const data = await fetchJson(`${api}?${query}`);
    if (run !== generation) return;
    say(panel, "");
    if (kind === "chart") {
      const target = panel.querySelector(".dash-chart");
      const layout = Object.assign({}, data.layout || {}, {
        autosize: true,
        margin: Object.assign({ t: 40, r: 20, b: 50, l: 60 }, (data.layout || {}).margin || {}),
      });
      await window.Plotly.react(target, data.data || [], layout, {
        responsive: true,
        displaylogo: false,
      });
      target.dataset.drawn = "true";
    } else {
      const target = panel.querySelector(".dash-table");
      if (data.rows.length === 0) {
        target.replaceChildren();
        say(panel, messages.empty);
      } else {
        drawTable(target, data);
      }
    }
    const download = new URLSearchParams(query);
    download.set("format", "csv");
    download.delete("rows");
    csv.href = `${api}?${download}`;
    csv.hidden = false;
  } catch (error) {
    if (run !== generation) return;
    say(panel, `${messages.error} ${error.message}`, true);
  } finally {
    panel.removeAttribute("aria-busy");
  }
}

async function run() {
  const params = formParams();
  if (stepList && !params.has("steps")) {
    statusLine.textContent = messages.need_steps;
    return;
  }
  statusLine.textContent = "";
  generation += 1;
  const current = generation;
  window.history.replaceState(null, "", `${window.location.pathname}?${params}`);
  form.setAttribute("aria-busy", "true");
  await Promise.all(panels.map((panel) => drawPanel(panel, params, current)));
  if (current === generation) form.removeAttribute("aria-busy");
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  run();
});

restoreFromUrl();
// A dashboard with all it needs runs at once; the funnel waits for its steps.
if (!stepList || stepList.children.length > 0) run();
