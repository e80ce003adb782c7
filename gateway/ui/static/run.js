// The run page: status, timestamps and progress from /api/runs/{id}/events; the workflow log from
// /api/runs/{id}/logs/stream in a window of the last MAX_LOG_LINES lines; tasks and files from REST.
import { TERMINAL, bytes, duration, el, runDuration, setStatus, timestamp, watchRun } from "./common.js";

const MAX_LOG_LINES = 2000;
const root = document.getElementById("run");
const runId = root.dataset.runId;
const api = `/api/runs/${encodeURIComponent(runId)}`;
let run = { status: root.dataset.status };
const TASK_PAGE_SIZE = Number(document.getElementById("tasks").dataset.pageSize);

// --- status, timestamps, error, cancel ---
const statusEl = document.getElementById("run-status");
const cancelButton = document.getElementById("cancel-run");
const problemEl = document.getElementById("action-problem");

function showRun(next) {
  run = next;
  root.dataset.status = run.status;
  setStatus(statusEl, run.status);
  for (const row of document.querySelectorAll("[data-time]")) {
    const value = run[row.dataset.time];
    const time = row.querySelector("time");
    time.dateTime = value || "";
    time.textContent = timestamp(value);
    if (value) row.hidden = false;
  }
  document.getElementById("run-duration").textContent = runDuration(run);
  const failed = run.status === "failed";
  document.getElementById("run-error").hidden = !failed;
  if (failed) {
    document.getElementById("error-message").textContent = run.error_message || "—";
    document.getElementById("error-task").textContent = run.error_task || "—";
    document.getElementById("error-exit").textContent = run.exit_code ?? "—";
  }
  cancelButton.hidden = TERMINAL.has(run.status);
  if (TERMINAL.has(run.status)) { loadTasks(); loadFiles(); }
}

cancelButton.addEventListener("click", async () => {
  if (!window.confirm("Cancel this run? Its running tasks stop.")) return;
  cancelButton.disabled = true;
  problemEl.hidden = true;
  try {
    const response = await fetch(api, { method: "DELETE" });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ? body.error.message : response.statusText);
    showRun(body);
  } catch (error) {
    problemEl.textContent = `Could not cancel: ${error.message}`;
    problemEl.hidden = false;
  } finally {
    cancelButton.disabled = false;
  }
});

setInterval(() => {
  if (run.started_at || run.submitted_at) document.getElementById("run-duration").textContent = runDuration(run);
}, 1000);

// --- progress bars ---
const progressList = document.getElementById("progress");

function showProgress(data) {
  renderProgress(data.processes || []);
  scheduleTasks();
}

function renderProgress(processes) {
  if (!processes.length) return;
  progressList.replaceChildren(...processes.map((p, i) => {
    const done = (p.succeeded || 0) + (p.cached || 0);
    const id = `proc-${i + 1}`;
    return el("li", { "data-process": p.process },
      el("span", { class: "process", id, text: p.process.split(":").pop() }),
      el("progress", { max: p.total || 1, value: done, "aria-labelledby": id }),
      el("span", { class: "counts", text: `${done} / ${p.total}${p.running ? ` (${p.running} running)` : ""}${p.failed ? `, ${p.failed} failed` : ""}` }));
  }));
}

// --- tasks ---
const taskRows = document.getElementById("task-rows");
const taskStatus = document.getElementById("task-status");
const taskPrev = document.getElementById("task-prev");
const taskNext = document.getElementById("task-next");
let taskPage = 1;
let taskTimer = null;

function scheduleTasks() {  // at most one refresh a second, driven by progress events (no polling)
  if (!taskTimer) taskTimer = setTimeout(() => { taskTimer = null; loadTasks(); }, 1000);
}

async function loadTasks() {
  const query = new URLSearchParams({ page: taskPage, page_size: TASK_PAGE_SIZE });
  if (taskStatus.value) query.set("status", taskStatus.value);
  const response = await fetch(`${api}/tasks?${query}`);
  if (!response.ok) return;
  const body = await response.json();
  const cell = (text, cls) => el("td", { class: cls, text });
  taskRows.replaceChildren(...body.tasks.map((t) => el("tr", {},
    cell((t.status || "").toLowerCase()), cell((t.process || "").split(":").pop()), cell(t.name || ""),
    cell(t.exit ?? "—", "num"), cell(t.duration_ms == null ? "—" : duration(t.duration_ms / 1000), "num"),
    cell(t.cpu_percent == null ? "—" : `${Math.round(t.cpu_percent)}%`, "num"),
    cell(bytes(t.peak_rss_bytes), "num"))));
  document.getElementById("task-summary").textContent = `${body.total} task${body.total === 1 ? "" : "s"}`;
  taskPrev.disabled = taskPage <= 1;
  taskNext.disabled = taskPage * TASK_PAGE_SIZE >= body.total;
  renderProgress(body.progress || []);
}

taskStatus.addEventListener("change", () => { taskPage = 1; loadTasks(); });
taskPrev.addEventListener("click", () => { taskPage = Math.max(1, taskPage - 1); loadTasks(); });
taskNext.addEventListener("click", () => { taskPage += 1; loadTasks(); });

// --- files ---
async function loadFiles() {
  const response = await fetch(`${api}/files`);
  if (!response.ok) return;
  const body = await response.json();
  const container = document.getElementById("files");
  const parts = [];
  for (const [group, label] of [["inputs", "Inputs"], ["results", "Results"], ["logs", "Logs"]]) {
    parts.push(el("h3", { text: label }));
    const files = body[group] || [];
    parts.push(files.length
      ? el("ul", { class: "files", "data-group": group }, ...files.map((f) => el("li", {},
          el("a", { href: f.download_url, download: true, text: f.path }), " ",
          el("span", { class: "muted", text: bytes(f.size) }))))
      : el("p", { class: "muted", "data-group": group, text: "None yet." }));
  }
  container.replaceChildren(...parts);
}

// --- workflow log: a window of the last MAX_LOG_LINES lines ---
const logEl = document.getElementById("log");
const logNote = document.getElementById("log-note");
const follow = document.getElementById("log-follow");
let dropped = 0;
let logDone = false;

function noteLog() {
  const parts = [];
  if (dropped) parts.push(`${dropped.toLocaleString("en")} earlier lines are not shown; the log archive has them all.`);
  if (logDone) parts.push("The log is complete.");
  logNote.textContent = parts.join(" ");
}

function appendEntries(entries) {
  if (!entries.length) return;
  const fragment = document.createDocumentFragment();
  for (const e of entries) {
    const line = el("div", { class: `line level-${(e.level || "").toLowerCase()}` });
    const time = e.timestamp ? e.timestamp.slice(11, 19) + " " : "";
    line.textContent = `${time}${e.level ? e.level.padEnd(5) + " " : ""}${e.message}`;
    fragment.append(line);
  }
  logEl.append(fragment);
  const excess = logEl.childElementCount - MAX_LOG_LINES;
  for (let i = 0; i < excess; i++) logEl.firstElementChild.remove();
  if (excess > 0) { dropped += excess; noteLog(); }
  if (follow.checked) logEl.scrollTop = logEl.scrollHeight;
}

const logSource = new EventSource(`${api}/logs/stream`);  // reconnects resume at Last-Event-ID (a byte offset)
logSource.addEventListener("entries", (e) => appendEntries(JSON.parse(e.data).entries || []));
logSource.addEventListener("done", () => { logSource.close(); logDone = true; noteLog(); });
logSource.addEventListener("error", (e) => {
  if (e.data) { logSource.close(); logNote.textContent = `The log stream failed: ${JSON.parse(e.data).error.message}`; }
});

// --- the run's events ---
if (!TERMINAL.has(run.status)) {
  watchRun(runId, { onStatus: showRun, onProgress: showProgress });
}
