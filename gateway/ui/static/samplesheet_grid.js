// The samplesheet as an editable grid: one input per cell, each checked as the user types against the
// pipeline's samplesheet schema (required, pattern, type, enum, unique), and the server's violations
// (`samplesheet[row N].column`) marked on their cells. Larger sheets are kept as text, not as a grid.
import { parseCsv, toCsv } from "./csv.js";
import { el } from "./common.js";

export const MAX_GRID_ROWS = 1000;

function patternOf(source) {
  try { return source ? new RegExp(source, "u") : null; } catch { return null; }
}

export class SamplesheetGrid {
  constructor(container, { onChange } = {}) {
    this.container = container;
    this.onChange = onChange || (() => {});
    this.columns = [];   // [{name, required, type, pattern, enum, message, unique}]
    this.header = [];    // the grid's column names, schema columns first
    this.rows = [];      // string[][] aligned with header
    this.rawCsv = null;  // a sheet too large to edit here
    this.server = new Map();  // "row:column" -> message from the last validation
    this.sheetProblem = "";
  }

  setSchema(samplesheetColumns, samplesheetSchema) {
    const props = (samplesheetSchema && samplesheetSchema.items && samplesheetSchema.items.properties) || {};
    this.columns = samplesheetColumns.map((c) => ({
      name: c.name, required: c.required, type: c.type, pattern: patternOf(c.pattern),
      enum: (props[c.name] && props[c.name].enum) || [], message: c.error_message, unique: c.unique,
    }));
    const old = this.header, oldRows = this.rows;
    const extra = old.filter((n) => !this.columns.some((c) => c.name === n));
    this.header = [...this.columns.map((c) => c.name), ...extra];
    this.rows = oldRows.map((r) => this.header.map((n) => (old.includes(n) ? r[old.indexOf(n)] : "")));
    if (!this.rows.length) this.rows = [this.header.map(() => "")];
    this.render();
  }

  setCsv(text) {
    const parsed = parseCsv(text);
    this.server.clear();
    this.sheetProblem = "";
    if (parsed.length - 1 > MAX_GRID_ROWS) {
      this.rawCsv = text;
      this.rows = [];
      this.render();
      this.onChange();
      return;
    }
    this.rawCsv = null;
    const [head = [], ...body] = parsed;
    const fileColumns = head.map((h) => h.trim());
    const extra = fileColumns.filter((n) => n && !this.columns.some((c) => c.name === n));
    this.header = [...this.columns.map((c) => c.name), ...extra];
    this.rows = body.map((r) => this.header.map((n) => {
      const at = fileColumns.indexOf(n);
      return at >= 0 ? (r[at] ?? "") : "";
    }));
    if (!this.rows.length) this.rows = [this.header.map(() => "")];
    this.render();
    this.onChange();
  }

  /** The CSV to send: the required columns and every column with a value, rows with any value. */
  csv() {
    if (this.rawCsv !== null) return this.rawCsv;
    const keep = this.header.map((n, i) => this.column(n)?.required || this.rows.some((r) => r[i].trim() !== ""));
    const pick = (r) => r.filter((_, i) => keep[i]);
    const rows = this.rows.filter((r) => r.some((v) => v.trim() !== ""));
    if (!rows.length) return "";
    return toCsv([pick(this.header), ...rows.map(pick)]);
  }

  sampleCount() {
    return this.rawCsv !== null ? parseCsv(this.rawCsv).length - 1 : this.rows.filter((r) => r.some((v) => v.trim())).length;
  }

  column(name) { return this.columns.find((c) => c.name === name); }

  /** What the schema says about one cell's value, or "" when it is fine. */
  cellProblem(rowIndex, colIndex) {
    const name = this.header[colIndex];
    const col = this.column(name);
    const value = this.rows[rowIndex][colIndex].trim();
    const blankRow = this.rows[rowIndex].every((v) => v.trim() === "");
    if (!col || blankRow) return "";
    if (!value) return col.required ? `${name} is required` : "";
    const bad = (generic) => col.message || generic;
    if (col.type === "integer" && !/^-?\d+$/.test(value)) return bad(`${name} must be a whole number`);
    if (col.type === "number" && !Number.isFinite(Number(value))) return bad(`${name} must be a number`);
    if (col.enum.length && !col.enum.includes(value)) return `${name} must be one of: ${col.enum.join(", ")}`;
    if (col.pattern && !col.pattern.test(value)) return bad(`${name} must match ${col.pattern.source}`);
    if (col.unique && this.rows.some((r, i) => i !== rowIndex && r[colIndex].trim() === value)) {
      return `${name} must be unique; ${value} appears twice`;
    }
    return "";
  }

  /** Every problem the grid can see (client checks and the server's), as [{row, column, message}]. */
  problems() {
    const out = [];
    this.rows.forEach((r, ri) => this.header.forEach((name, ci) => {
      const message = this.cellProblem(ri, ci) || this.server.get(`${ri + 1}:${name}`);
      if (message) out.push({ row: ri + 1, column: name, message });
    }));
    return out;
  }

  /** The server's violations on this sheet: cells, or the sheet as a whole. Returns the ones placed. */
  markServer(violations) {
    this.server.clear();
    const sheet = [];
    for (const v of violations) {
      const m = /^samplesheet\[row (\d+)\]\.(.+)$/.exec(v.field);
      if (m && this.rawCsv === null && Number(m[1]) <= this.rows.length && this.header.includes(m[2])) {
        this.server.set(`${m[1]}:${m[2]}`, v.description);
      } else if (v.field.startsWith("samplesheet")) {
        sheet.push(`${v.field.replace(/^samplesheet/, "Samplesheet")}: ${v.description}`);
      }
    }
    this.sheetProblem = sheet.join("\n");
    this.render();
  }

  cellId(ri, ci) { return `cell-${ri + 1}-${ci}`; }

  focusCell(row, column) {
    const input = document.getElementById(this.cellId(row - 1, this.header.indexOf(column)));
    if (input) input.focus();
  }

  render() {
    const parts = [];
    if (this.rawCsv !== null) {
      parts.push(el("p", { class: "muted", text: `${this.sampleCount().toLocaleString("en")} rows: too many to edit here (the grid shows up to ${MAX_GRID_ROWS}); the file is sent as it is.` }));
    } else {
      const head = el("tr", {}, ...this.header.map((name) => {
        const col = this.column(name);
        return el("th", { scope: "col" }, name, col && col.required ? el("span", { class: "req", title: "required", "aria-label": "required", text: " *" }) : "");
      }), el("th", { scope: "col" }, el("span", { class: "visually-hidden", text: "Row actions" })));
      const body = this.rows.map((r, ri) => el("tr", {}, ...r.map((value, ci) => this.renderCell(ri, ci, value)),
        el("td", {}, el("button", { type: "button", class: "secondary small", "aria-label": `Remove row ${ri + 1}`, "data-remove": ri, text: "✕" }))));
      parts.push(el("div", { class: "table-wrap", role: "region", "aria-label": "Samplesheet grid", tabindex: "0" },
        el("table", { class: "grid" }, el("caption", { class: "visually-hidden", text: "Samplesheet: one row per sample" }),
          el("thead", {}, head), el("tbody", {}, ...body))));
      parts.push(el("p", {}, el("button", { type: "button", class: "secondary", "data-add": "1", text: "Add a row" })));
    }
    const summary = el("p", { id: "grid-summary", role: "status", class: "muted" });
    parts.push(summary);
    if (this.sheetProblem) parts.push(el("p", { class: "problem", id: "sheet-problem", text: this.sheetProblem }));
    this.container.replaceChildren(...parts);
    this.summary = summary;
    this.updateSummary();
    this.container.onclick = (e) => {
      const target = e.target.closest("button");
      if (!target) return;
      if (target.dataset.add) { this.rows.push(this.header.map(() => "")); this.render(); this.focusCell(this.rows.length, this.header[0]); }
      if (target.dataset.remove !== undefined) {
        this.rows.splice(Number(target.dataset.remove), 1);
        if (!this.rows.length) this.rows.push(this.header.map(() => ""));
        this.server.clear();
        this.render();
        this.onChange();
      }
    };
  }

  renderCell(ri, ci, value) {
    const name = this.header[ci];
    const id = this.cellId(ri, ci);
    const input = el("input", { type: "text", id, value, "aria-label": `${name}, row ${ri + 1}`, "data-row": ri, "data-col": ci, spellcheck: "false" });
    const message = el("span", { class: "cell-problem", id: `${id}-problem` });
    input.addEventListener("input", () => {
      this.rows[ri][ci] = input.value;
      this.server.delete(`${ri + 1}:${name}`);
      this.refreshRowAndColumn(ri, ci);
      this.onChange();
    });
    const td = el("td", {}, input, message);
    this.paintCell(input, message, ri, ci);
    return td;
  }

  paintCell(input, message, ri, ci) {
    const problem = this.cellProblem(ri, ci) || this.server.get(`${ri + 1}:${this.header[ci]}`) || "";
    input.setAttribute("aria-invalid", problem ? "true" : "false");
    if (problem) input.setAttribute("aria-describedby", message.id); else input.removeAttribute("aria-describedby");
    message.textContent = problem;
    input.closest("td")?.classList.toggle("bad", Boolean(problem));
  }

  refreshRowAndColumn(ri, ci) {
    // A value can make its row required (a blank row asks nothing) and a unique column's other cells change.
    for (const input of this.container.querySelectorAll("input[data-row]")) {
      const r = Number(input.dataset.row), c = Number(input.dataset.col);
      if (r === ri || c === ci) this.paintCell(input, document.getElementById(`${input.id}-problem`), r, c);
    }
    this.updateSummary();
  }

  updateSummary() {
    if (!this.summary) return;
    const n = this.sampleCount();
    const bad = this.problems().length;
    this.summary.textContent = `${n} sample${n === 1 ? "" : "s"}` + (bad ? ` · ${bad} problem${bad === 1 ? "" : "s"} marked in the grid` : "");
    this.summary.className = bad ? "problem" : "muted";
  }
}
