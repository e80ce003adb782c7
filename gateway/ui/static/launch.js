// The Launch page: the pipeline's schema as a form, the samplesheet as a grid (uploaded, typed or built
// from Benchling), the user config with its problems on their lines, validate, launch. Only public routes:
// /api/pipelines, /api/benchling, /api/runs:validate and /api/runs.
import { el } from "./common.js";
import { SamplesheetGrid } from "./samplesheet_grid.js";
import { SchemaForm } from "./schema_form.js";
import { load as loadYaml, CORE_SCHEMA } from "./vendor/js-yaml-4.1.0.mjs";

const form = document.getElementById("launch");
const pipelineSelect = document.getElementById("pipeline");
const versionSelect = document.getElementById("version");
const problemsBox = document.getElementById("launch-problems");
const statusEl = document.getElementById("launch-status");
const configEl = document.getElementById("config");
const gutter = document.getElementById("config-gutter");
const configProblems = document.getElementById("config-problems");

const params = new SchemaForm(document.getElementById("params"));
const grid = new SamplesheetGrid(document.getElementById("grid"));
// The Benchling runs the samplesheet was built from: edits in the grid keep it (the samples still came from
// there); an upload or another build replaces it.
let source = null;
let configLines = new Map();  // line -> message
let schemaLoad = Promise.resolve();

async function api(path, options = {}) {
  const headers = { Accept: "application/json", ...(options.body ? { "Content-Type": "application/json" } : {}), ...(options.headers || {}) };
  const response = await fetch(path, { ...options, headers });
  let body = null;
  try { body = await response.json(); } catch { body = null; }
  return { ok: response.ok, status: response.status, body };
}

function errorOf(body, status) {
  const error = (body && body.error) || { message: `HTTP ${status}` };
  const violations = [];
  for (const detail of error.details || []) for (const v of detail.field_violations || []) violations.push(v);
  return { message: error.message, violations };
}

// --- pipeline and version ---

function versionsOf(option) { return option.dataset.versions.split(" ").filter(Boolean); }

function fillVersions(chosen) {
  const option = pipelineSelect.selectedOptions[0];
  const versions = versionsOf(option);
  const wanted = versions.includes(chosen) ? chosen : option.dataset.defaultVersion;
  versionSelect.replaceChildren(...versions.map((v) => el("option", { value: v, text: v, selected: v === wanted || null })));
  document.getElementById("pipeline-description").textContent = option.dataset.description || "";
}

async function loadSchema() {
  const name = pipelineSelect.value, version = versionSelect.value;
  history.replaceState(null, "", `/launch?${new URLSearchParams({ pipeline: name, version })}`);
  const { ok, status, body } = await api(`/api/pipelines/${name.split("/").map(encodeURIComponent).join("/")}/schema?${new URLSearchParams({ version })}`);
  if (!ok) {
    document.getElementById("params").replaceChildren(el("p", { class: "problem", role: "alert", text: `Could not load the schema: ${errorOf(body, status).message}` }));
    return;
  }
  params.render(body);
  grid.setSchema(body.samplesheet_columns, body.samplesheet_schema);
}

pipelineSelect.addEventListener("change", () => { fillVersions(); schemaLoad = loadSchema(); });
versionSelect.addEventListener("change", () => { schemaLoad = loadSchema(); });

// --- samplesheet upload ---

document.getElementById("samplesheet-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (!file) return;
  source = null;
  grid.setCsv(await file.text());
});

// --- Benchling: project -> NGS runs -> samples -> samplesheet ---

const benchling = document.getElementById("benchling");
const projectSelect = document.getElementById("bl-project");
const runsBox = document.getElementById("bl-runs");
const samplesBox = document.getElementById("bl-samples");
const buildButton = document.getElementById("bl-build");
const blStatus = document.getElementById("bl-status");
let benchlingLoaded = false;

async function loadProjects() {
  const { ok, status, body } = await api("/api/benchling/metadata");
  if (!ok) { blStatus.textContent = `Benchling: ${errorOf(body, status).message}`; return; }
  projectSelect.append(...body.projects.map((p) => el("option", { value: p, text: p })));
}

async function loadNgsRuns() {
  runsBox.replaceChildren(el("p", { class: "muted", text: "Loading…" }));
  const query = new URLSearchParams({ page_size: 100 });
  if (projectSelect.value) query.set("project", projectSelect.value);
  const { ok, status, body } = await api(`/api/benchling/runs?${query}`);
  if (!ok) { runsBox.replaceChildren(el("p", { class: "problem", text: `Benchling: ${errorOf(body, status).message}` })); return; }
  if (!body.ngs_runs.length) { runsBox.replaceChildren(el("p", { class: "muted", text: "No NGS runs in this project." })); return; }
  runsBox.replaceChildren(...body.ngs_runs.map((r, i) => {
    const id = `bl-run-${i}`;
    const box = el("input", { type: "checkbox", id, value: r.name, "data-project": r.project });
    box.addEventListener("change", showSamples);
    return el("div", { class: "check-row" }, box,
      el("label", { for: id, class: "check", text: `${r.name} · ${r.project} · ${r.sample_count} samples${r.run_date ? " · " + r.run_date.slice(0, 10) : ""}` }));
  }));
  samplesBox.replaceChildren();
  buildButton.disabled = true;
}

function chosenNgsRuns() { return [...runsBox.querySelectorAll("input:checked")].map((b) => b.value); }

async function showSamples() {
  const names = chosenNgsRuns();
  buildButton.disabled = !names.length;
  const tables = [];
  for (const name of names) {
    const { ok, status, body } = await api(`/api/benchling/runs/${encodeURIComponent(name)}/samples`);
    if (!ok) { tables.push(el("p", { class: "problem", text: `${name}: ${errorOf(body, status).message}` })); continue; }
    tables.push(el("h3", { text: `Samples of ${name}` }), el("div", { class: "table-wrap" }, el("table", {},
      el("thead", {}, el("tr", {}, ...["Sample", "FASTQ 1", "FASTQ 2"].map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, ...body.samples.map((s) => el("tr", {},
        el("td", { text: s.sample_name || s.name || "" }), el("td", { text: s.fastq_1 || "" }), el("td", { text: s.fastq_2 || "" })))))));
  }
  if (names.join("\n") === chosenNgsRuns().join("\n")) samplesBox.replaceChildren(...tables);
}

async function buildSamplesheet(names) {
  await schemaLoad;
  blStatus.textContent = "Building the samplesheet…";
  const { ok, status, body } = await api("/api/benchling/samplesheet", {
    method: "POST", body: JSON.stringify({ pipeline: pipelineSelect.value, pipeline_version: versionSelect.value, ngs_runs: names }),
  });
  if (!ok) {
    const error = errorOf(body, status);
    blStatus.textContent = `Could not build the samplesheet: ${[error.message, ...error.violations.map((v) => `${v.field}: ${v.description}`)].join("; ")}`;
    return;
  }
  grid.setCsv(body.samplesheet_csv);
  source = { ngs_runs: body.source_ngs_runs, project: body.source_project };
  const omitted = body.omitted_columns.length ? ` Columns the pipeline does not take were left out: ${body.omitted_columns.join(", ")}.` : "";
  blStatus.textContent = `${body.sample_count} samples from ${body.source_ngs_runs.join(", ")} are in the grid.${omitted}`;
}

benchling.addEventListener("toggle", () => {
  if (benchling.open && !benchlingLoaded) { benchlingLoaded = true; loadProjects(); loadNgsRuns(); }
});
projectSelect.addEventListener("change", loadNgsRuns);
buildButton.addEventListener("click", () => buildSamplesheet(chosenNgsRuns()));

// --- the config, with the parser's problems on their lines ---

function paintGutter() {
  const count = Math.max(1, configEl.value.split("\n").length);
  const lines = [];
  for (let n = 1; n <= count; n++) lines.push(el("div", { class: configLines.has(n) ? "bad" : "", title: configLines.get(n) || null, text: String(n) }));
  gutter.replaceChildren(...lines);
  gutter.scrollTop = configEl.scrollTop;
}

function selectLine(line) {
  const lines = configEl.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((n, l) => n + l.length + 1, 0);
  configEl.focus();
  configEl.setSelectionRange(start, start + (lines[line - 1] || "").length);
}

function markConfig(violations) {
  configLines = new Map();
  const items = [];
  for (const v of violations) {
    const m = /^line (\d+)(?:, column (\d+))?: (.*)$/s.exec(v.description);
    if (m) {
      const line = Number(m[1]);
      configLines.set(line, configLines.has(line) ? `${configLines.get(line)}; ${m[3]}` : m[3]);
      items.push(el("li", {}, el("button", { type: "button", class: "link", "data-line": line, text: `Line ${line}${m[2] ? `, column ${m[2]}` : ""}` }), `: ${m[3]}`));
    } else items.push(el("li", { text: v.description }));
  }
  configProblems.replaceChildren(...items);
  configEl.setAttribute("aria-invalid", items.length ? "true" : "false");
  paintGutter();
}

configEl.addEventListener("input", () => { if (configLines.size) markConfig([]); else paintGutter(); });
configEl.addEventListener("scroll", () => { gutter.scrollTop = configEl.scrollTop; });
configProblems.addEventListener("click", (e) => { const b = e.target.closest("button[data-line]"); if (b) selectLine(Number(b.dataset.line)); });

// --- name, description, labels ---

function labels() {
  const out = {};
  for (const part of document.getElementById("run-labels").value.split(",")) {
    if (!part.trim()) continue;
    const [key, ...rest] = part.split("=");
    out[key.trim()] = rest.join("=").trim();
  }
  return out;
}

function setLabels(map) {
  document.getElementById("run-labels").value = Object.entries(map || {}).map(([k, v]) => `${k}=${v}`).join(", ");
}

// --- import a launch file ---

document.getElementById("import-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  const importStatus = document.getElementById("import-status");
  if (!file) return;
  let doc;
  try {
    const text = await file.text();
    doc = /\.json$/i.test(file.name) ? JSON.parse(text) : loadYaml(text, { schema: CORE_SCHEMA });
    if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new Error("it is not a launch document (a mapping of pipeline, params, samplesheet_csv…)");
  } catch (error) {
    importStatus.textContent = `Could not read ${file.name}: ${error.message}`;
    importStatus.className = "problem";
    return;
  }
  const option = [...pipelineSelect.options].find((o) => o.value === doc.pipeline);
  if (!option) {
    importStatus.textContent = `${file.name} names the pipeline ${doc.pipeline}, which the catalog does not have.`;
    importStatus.className = "problem";
    return;
  }
  pipelineSelect.value = doc.pipeline;
  fillVersions(doc.pipeline_version);
  schemaLoad = loadSchema();
  await schemaLoad;
  params.setParams(doc.params || {});
  grid.setCsv(doc.samplesheet_csv || "");
  source = (doc.source_ngs_runs || []).length ? { ngs_runs: doc.source_ngs_runs, project: doc.source_project || null } : null;
  configEl.value = doc.config_content || "";
  markConfig([]);
  document.getElementById("run-name").value = doc.name || "";
  document.getElementById("run-description").value = doc.description || "";
  setLabels(doc.labels);
  const missing = doc.pipeline_version && versionSelect.value !== doc.pipeline_version ? ` (version ${doc.pipeline_version} is not in the catalog; using ${versionSelect.value})` : "";
  importStatus.textContent = `Filled from ${file.name}${missing}.`;
  importStatus.className = "muted";
});

// --- validate and launch ---

function launchBody() {
  const body = {
    pipeline: pipelineSelect.value,
    pipeline_version: versionSelect.value,
    samplesheet_csv: grid.csv(),
    params: params.getParams(),
    config_content: configEl.value,
    name: document.getElementById("run-name").value.trim(),
    description: document.getElementById("run-description").value,
    labels: labels(),
  };
  if (source) { body.source_ngs_runs = source.ngs_runs; body.source_project = source.project; }
  return body;
}

const FIELD_BOXES = { name: "run-name", description: "run-description", labels: "run-labels" };

function showProblems(message, violations) {
  const rest = params.markServer(violations);
  grid.markServer(violations);
  markConfig(violations.filter((v) => v.field === "user_config" || v.field === "config_content"));
  for (const [field, id] of Object.entries(FIELD_BOXES)) {
    const mine = violations.filter((v) => v.field === field || v.field.startsWith(`${field}.`) || v.field.startsWith(`${field}[`));
    document.getElementById(`${id}-problem`).textContent = mine.map((v) => v.description).join("; ");
    document.getElementById(id).setAttribute("aria-invalid", mine.length ? "true" : "false");
  }
  const list = el("ul", {}, ...violations.map((v) => el("li", {}, el("code", { text: v.field }), `: ${v.description}`)));
  problemsBox.replaceChildren(el("p", { text: message }), list);
  problemsBox.hidden = false;
  statusEl.textContent = "";
  void rest;
}

function clientProblems() {
  const out = [];
  for (const p of params.problems()) out.push({ field: `params.${p.name}`, description: p.message });
  for (const c of grid.problems()) out.push({ field: `samplesheet[row ${c.row}].${c.column}`, description: c.message });
  if (!grid.csv()) out.push({ field: "samplesheet", description: "is empty: upload a samplesheet, build one from Benchling or fill the grid" });
  return out;
}

function clearProblems() {
  problemsBox.hidden = true;
  problemsBox.replaceChildren();
}

async function check(path, { idempotent } = {}) {
  clearProblems();
  await schemaLoad;
  params.paintAll();
  const local = clientProblems();
  if (local.length) {
    const message = `Fix ${local.length === 1 ? "this problem" : `these ${local.length} problems`} first:`;
    problemsBox.replaceChildren(el("p", { text: message }), el("ul", {}, ...local.map((v) => el("li", {}, el("code", { text: v.field }), `: ${v.description}`))));
    problemsBox.hidden = false;
    return null;
  }
  const headers = idempotent ? { "Idempotency-Key": idempotent } : {};
  const { ok, status, body } = await api(path, { method: "POST", body: JSON.stringify(launchBody()), headers });
  if (ok) return body;
  const error = errorOf(body, status);
  showProblems(error.message, error.violations);
  return null;
}

const validateButton = document.getElementById("validate");
const submitButton = document.getElementById("submit");

validateButton.addEventListener("click", async () => {
  validateButton.disabled = true;
  statusEl.textContent = "Validating…";
  try {
    const answer = await check("/api/runs:validate");
    if (answer) {
      statusEl.textContent = `Valid: ${answer.sample_count} sample${answer.sample_count === 1 ? "" : "s"}; the run would be named “${answer.name}”.`
        + (answer.warnings.length ? ` Warnings: ${answer.warnings.join("; ")}` : "");
    } else if (statusEl.textContent === "Validating…") statusEl.textContent = "";
  } finally { validateButton.disabled = false; }
});

form.addEventListener("submit", async (e) => {
  e.preventDefault();
  submitButton.disabled = true;
  statusEl.textContent = "Launching…";
  try {
    const key = globalThis.crypto && crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`;
    const run = await check("/api/runs", { idempotent: key });
    if (run) { statusEl.textContent = "Launched."; window.location.assign(`/runs/${encodeURIComponent(run.run_id)}`); }
    else if (statusEl.textContent === "Launching…") statusEl.textContent = "";
  } finally { submitButton.disabled = false; }
});

// --- start ---
paintGutter();
schemaLoad = loadSchema();
const presetNgsRun = form.dataset.ngsRun;
if (presetNgsRun) {
  benchling.open = true;
  buildSamplesheet([presetNgsRun]);
}
