// The params form generated from a pipeline's JSON schema, as the Pipelines service groups it: a fieldset
// per section with its title and description; each param with its help text, default, required mark;
// enums as choices, booleans as checkboxes, numbers and patterns checked as the user types. Params the
// platform sets (input, outdir) are not offered; params the schema hides sit behind "More options".
import { el } from "./common.js";

function fieldId(name) { return `param-${name}`; }

function patternOf(source) {
  try { return source ? new RegExp(source, "u") : null; } catch { return null; }
}

export class SchemaForm {
  constructor(container) {
    this.container = container;
    this.params = new Map();   // name -> schema param
    this.extra = {};           // imported params the schema does not know (the server will say so)
    this.server = new Map();   // name -> message from the last validation
  }

  render(schema) {
    this.params.clear();
    this.server.clear();
    const visible = [], hidden = [];
    for (const group of schema.param_groups) {
      const offered = group.params.filter((p) => !p.platform_managed);
      if (!offered.length) continue;
      const shown = offered.filter((p) => !p.hidden), rest = offered.filter((p) => p.hidden);
      if (shown.length) visible.push(this.renderGroup(group, shown));
      if (rest.length) hidden.push(this.renderGroup(group, rest, "-more"));
    }
    // nf-core schemas have many sections (scrnaseq: one per aligner): a list of them to jump to.
    const sections = el("nav", { class: "param-sections", "aria-label": "Parameter sections" },
      el("ul", {}, ...visible.map((f) => el("li", {}, el("a", { href: `#${f.id}`, text: f.querySelector("legend").textContent })))));
    const parts = visible.length > 3 ? [sections, ...visible] : [...visible];
    if (hidden.length) {
      parts.push(el("details", { class: "more-params" },
        el("summary", { text: "More options (hidden by the pipeline's schema)" }), ...hidden));
    }
    this.container.replaceChildren(...parts);
  }

  renderGroup(group, params, suffix = "") {
    const fieldset = el("fieldset", { class: "param-group", "data-group": group.name, id: `group-${group.name}${suffix}` },
      el("legend", { text: group.title || group.name }));
    if (group.description) fieldset.append(el("p", { class: "muted", text: group.description }));
    for (const p of params) fieldset.append(this.renderParam(p));
    return fieldset;
  }

  renderParam(p) {
    this.params.set(p.name, p);
    const id = fieldId(p.name);
    const describedBy = [`${id}-desc`, `${id}-problem`];
    const label = el("label", { for: id }, p.name, p.required ? el("span", { class: "req", "aria-hidden": "true", text: " *" }) : "");
    const hasDefault = Object.prototype.hasOwnProperty.call(p, "default");
    const desc = el("p", { class: "param-desc", id: `${id}-desc` }, p.description || "",
      hasDefault ? el("span", { class: "muted", text: ` Default: ${JSON.stringify(p.default)}.` }) : "");
    let input;
    if (p.type === "boolean") {
      input = el("input", { type: "checkbox", id, "aria-describedby": describedBy.join(" ") });
      input.checked = hasDefault ? Boolean(p.default) : false;
      const wrap = el("div", { class: "param", "data-param": p.name },
        el("label", { for: id, class: "check" }, input, ` ${p.name}`), desc);
      this.appendHelp(wrap, p);
      wrap.append(el("p", { class: "field-problem", id: `${id}-problem` }));
      return wrap;
    }
    if (p.enum && p.enum.length) {
      input = el("select", { id, "aria-describedby": describedBy.join(" "), required: p.required || null },
        el("option", { value: "", text: hasDefault ? `Default (${p.default})` : "— choose —" }),
        ...p.enum.map((v) => el("option", { value: String(v), text: String(v) })));
    } else {
      const numeric = p.type === "integer" || p.type === "number";
      input = el("input", {
        type: "text", id, "aria-describedby": describedBy.join(" "), required: p.required || null,
        inputmode: numeric ? (p.type === "integer" ? "numeric" : "decimal") : null,
        placeholder: hasDefault && p.default !== null && p.default !== "" ? String(p.default) : null,
        spellcheck: "false",
      });
    }
    input.addEventListener("input", () => { this.server.delete(p.name); this.paint(p.name); });
    input.addEventListener("change", () => { this.server.delete(p.name); this.paint(p.name); });
    const wrap = el("div", { class: "param", "data-param": p.name }, label, desc, input);
    this.appendHelp(wrap, p);
    wrap.append(el("p", { class: "field-problem", id: `${id}-problem` }));
    return wrap;
  }

  appendHelp(wrap, p) {
    if (p.help_text) wrap.append(el("details", { class: "help" }, el("summary", { text: `Help: ${p.name}` }), el("p", { text: p.help_text })));
  }

  input(name) { return document.getElementById(fieldId(name)); }

  /** The typed value of one param, or undefined when it is left to the pipeline's default. */
  value(name) {
    const p = this.params.get(name), input = this.input(name);
    if (!p || !input) return undefined;
    if (p.type === "boolean") {
      const fallback = Object.prototype.hasOwnProperty.call(p, "default") ? Boolean(p.default) : false;
      return input.checked === fallback ? undefined : input.checked;
    }
    const text = input.value.trim();
    if (!text) return undefined;
    if (p.type === "integer" && /^-?\d+$/.test(text)) return Number(text);
    if (p.type === "number" && text !== "" && Number.isFinite(Number(text))) return Number(text);
    return text;
  }

  /** What the schema says about one param's current value, or "". */
  problem(name) {
    const p = this.params.get(name), input = this.input(name);
    if (!p || !input || p.type === "boolean") return "";
    const text = input.value.trim();
    if (!text) return p.required ? "is required" : "";
    if (p.type === "integer" && !/^-?\d+$/.test(text)) return "must be a whole number";
    if (p.type === "number" && !Number.isFinite(Number(text))) return "must be a number";
    const pattern = p.type === "string" ? patternOf(p.pattern) : null;
    if (pattern && !pattern.test(text)) return `must match the pattern ${p.pattern}`;
    return "";
  }

  paint(name) {
    const input = this.input(name);
    if (!input) return;
    const message = this.problem(name) || this.server.get(name) || "";
    input.setAttribute("aria-invalid", message ? "true" : "false");
    document.getElementById(`${fieldId(name)}-problem`).textContent = message ? `${name} ${message}` : "";
    input.closest(".param").classList.toggle("bad", Boolean(message));
  }

  paintAll() { for (const name of this.params.keys()) this.paint(name); }

  problems() {
    const out = [];
    for (const name of this.params.keys()) {
      const message = this.problem(name) || this.server.get(name);
      if (message) out.push({ name, message });
    }
    return out;
  }

  getParams() {
    const out = { ...this.extra };
    for (const name of this.params.keys()) {
      const v = this.value(name);
      if (v !== undefined) out[name] = v;
    }
    return out;
  }

  /** Fill from a launch document's params; the schema's unknowns are kept and sent as they are. */
  setParams(values) {
    this.extra = {};
    for (const name of this.params.keys()) {
      const p = this.params.get(name), input = this.input(name);
      if (p.type === "boolean") input.checked = name in values ? Boolean(values[name]) : Boolean(p.default);
      else input.value = name in values && values[name] !== null ? String(values[name]) : "";
    }
    for (const [name, v] of Object.entries(values)) if (!this.params.has(name)) this.extra[name] = v;
    this.server.clear();
    this.paintAll();
  }

  /** The server's `params.NAME` violations on their fields; returns those it could not place. */
  markServer(violations) {
    this.server.clear();
    const rest = [];
    for (const v of violations) {
      const m = /^params\.([A-Za-z_][A-Za-z0-9_]*)/.exec(v.field);
      if (m && this.params.has(m[1])) {
        this.server.set(m[1], v.description);
        const details = this.input(m[1]).closest("details.more-params");
        if (details) details.open = true;
      } else rest.push(v);
    }
    this.paintAll();
    return rest;
  }
}
