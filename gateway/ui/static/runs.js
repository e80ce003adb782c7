// The runs page: each active run's status follows its /api/runs/{id}/events stream, without a reload.
import { TERMINAL, runDuration, setStatus, timestamp } from "./common.js";

// A browser opens at most six HTTP/1.1 connections per origin: follow a few runs at a time, the rest as
// earlier ones end.
const MAX_STREAMS = 4;
const waiting = [...document.querySelectorAll("tr[data-run-id]")].filter((r) => !TERMINAL.has(r.dataset.status));
let open = 0;

function follow(row) {
  open++;
  const source = new EventSource(`/api/runs/${encodeURIComponent(row.dataset.runId)}/events`);
  let closed = false;
  const finish = () => { if (closed) return; closed = true; source.close(); open--; next(); };
  source.addEventListener("status", (e) => {
    const run = JSON.parse(e.data);
    row.dataset.status = run.status;
    setStatus(row.querySelector('[data-field="status"]'), run.status);
    const started = run.started_at || run.submitted_at || run.created_at;
    const time = row.querySelector('[data-field="started"] time');
    time.dateTime = started || "";
    time.textContent = timestamp(started);
    row.querySelector('[data-field="duration"]').textContent = runDuration(run);
    if (TERMINAL.has(run.status)) finish();
  });
  source.addEventListener("done", finish);
  source.addEventListener("error", (e) => { if (e.data) finish(); });
}

function next() {
  while (open < MAX_STREAMS && waiting.length) follow(waiting.shift());
}

next();
