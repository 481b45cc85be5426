// The field list: measures to tick, each dimension's levels (drag one onto rows or columns, or use its
// buttons, which the keyboard reaches), and the analyst calculations menu.

import { columnLabel } from "./format.js";
import { formatLevelRef } from "./model.js";
import { element } from "./dom.js";

export const LEVEL_TYPE = "application/x-cube-level";

export const CALCULATIONS = [
  ["share(M, total)", "Share of total"],
  ["share(M, parent)", "Share of parent"],
  ["growth(M, previous)", "Growth on previous period"],
  ["growth(M, last_year)", "Growth on last year"],
  ["change(M, previous)", "Change on previous period"],
  ["ytd(M)", "Year to date"],
  ["qtd(M)", "Quarter to date"],
  ["rank(M)", "Rank"],
  ["moving_avg(M, 3)", "Moving average (3 periods)"],
];

export function renderMeasures(container, model, state, onToggle) {
  container.replaceChildren(
    ...model.measures.map((measure) => {
      const box = element("input", { type: "checkbox", value: measure.name, checked: state.measures.includes(measure.name) });
      box.addEventListener("change", () => onToggle(measure.name, box.checked));
      const hint = measure.formula ? `= ${measure.formula}` : measure.function ? `${measure.function}` : "";
      return element("li", {}, element("label", { title: hint }, box, ` ${measure.label}`));
    }),
  );
}

/** handlers: onPlace(entry, axis), onFilter(entry). */
export function renderDimensions(container, model, state, handlers) {
  const used = new Map();
  for (const axis of ["rows", "columns"]) {
    for (const entry of state[axis]) used.set(formatLevelRef(entry), axis);
  }
  const groups = model.dimensions.map((dimension) => {
    const details = element("details", { className: "dimension", open: true });
    const summary = element("summary", {}, element("span", { text: dimension.label }));
    if (dimension.role === "time") summary.append(element("span", { className: "badge", text: "time" }));
    details.append(summary);
    for (const hierarchy of dimension.hierarchies) {
      const list = element("ul", { className: "levels" });
      if (dimension.hierarchies.length > 1) {
        details.append(element("p", { className: "hierarchy", text: hierarchy.label || hierarchy.name }));
      }
      hierarchy.levels.forEach((name) => {
        const level = dimension.levels.find((item) => item.name === name);
        const entry = {
          dimension: dimension.name,
          hierarchy: hierarchy.name === dimension.default_hierarchy_name ? null : hierarchy.name,
          level: name,
        };
        const ref = formatLevelRef(entry);
        const placed = used.get(ref);
        const item = element("li", { className: "level" + (placed ? " placed" : ""), draggable: "true", "data-ref": ref });
        item.append(element("span", { className: "level-name", text: level.label }));
        if (level.cardinality === "high") item.append(element("span", { className: "badge", title: "many members", text: "many" }));
        const buttons = element("span", { className: "level-buttons" });
        const make = (text, label, onClick) => {
          const button = element("button", { type: "button", className: "mini", "aria-label": label, title: label, text });
          button.addEventListener("click", onClick);
          buttons.append(button);
        };
        make("rows", `Put ${level.label} on rows`, () => handlers.onPlace(entry, "rows"));
        make("cols", `Put ${level.label} on columns`, () => handlers.onPlace(entry, "columns"));
        make("filter", `Filter by ${level.label}`, () => handlers.onFilter(entry));
        item.append(buttons);
        item.addEventListener("dragstart", (event) => {
          event.dataTransfer.setData(LEVEL_TYPE, ref);
          event.dataTransfer.setData("text/plain", ref);
          event.dataTransfer.effectAllowed = "copyMove";
          document.body.classList.add("dragging");
        });
        item.addEventListener("dragend", () => document.body.classList.remove("dragging"));
        list.append(item);
      });
      details.append(list);
    }
    return details;
  });
  container.replaceChildren(...groups);
}

/** The calculations menu: a kind and a measure, then "Add"; the chosen ones as removable chips. */
export function renderCalculations(form, list, model, state, handlers) {
  const kind = form.querySelector("#calc-kind");
  const measure = form.querySelector("#calc-measure");
  if (!kind.options.length) {
    for (const [template, label] of CALCULATIONS) kind.append(element("option", { value: template, text: label }));
  }
  const chosen = measure.value;
  measure.replaceChildren(...model.measures.map((item) => element("option", { value: item.name, text: item.label })));
  if (chosen && model.measure(chosen)) measure.value = chosen;
  else if (state.measures.length) measure.value = state.measures[0];
  form.onsubmit = (event) => {
    event.preventDefault();
    handlers.onAdd(kind.value.replace("M", measure.value));
  };
  list.replaceChildren(
    ...state.calcs.map((calc) => {
      const remove = element("button", { type: "button", className: "chip-remove", "aria-label": `Remove calculation ${calc}`, text: "×" });
      remove.addEventListener("click", () => handlers.onRemove(calc));
      return element("li", { className: "chip calc", title: calc }, element("span", { text: calcText(model, calc) }), remove);
    }),
  );
}

function calcText(model, calc) {
  const match = /^(\w+)\(\s*(\w+)\s*(?:,\s*(\w+)\s*)?\)$/.exec(calc) || /^(\w+)\(\s*(\d+)\s*,\s*(\w+)\s*\)$/.exec(calc);
  if (!match) return calc;
  const [, name, first, second] = match;
  const measureName = model.measure(first) ? first : second;
  const suffix = name === "moving_avg" ? `moving_avg_${second}` : second && model.measure(first) ? `${name}_${second}` : name;
  return columnLabel(model, `${measureName}__${suffix}`);
}
