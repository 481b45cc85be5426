// The rows and columns shelves: the levels placed on each axis, as chips. Drop a level from the field
// list (or a chip from either shelf) where it should go; or use the chip's buttons: move earlier or
// later, to the other axis, or remove.

import { effectiveEntry } from "./state.js";
import { LEVEL_TYPE } from "./fields.js";
import { formatLevelRef, parseLevelRef } from "./model.js";
import { element } from "./dom.js";

const CHIP_TYPE = "application/x-cube-chip";

function dropIndex(list, event) {
  const chips = [...list.querySelectorAll(".axis-chip")];
  for (let index = 0; index < chips.length; index += 1) {
    const box = chips[index].getBoundingClientRect();
    if (event.clientX < box.left + box.width / 2 && event.clientY < box.bottom) return index;
  }
  return chips.length;
}

/**
 * handlers: onMove({entry, from: {axis, index} | null, to: {axis, index}}), onRemove(axis, index).
 * A drop of a level already on an axis moves it; a level of a dimension already placed replaces that one.
 */
export function renderAxes(lists, model, state, handlers) {
  for (const axis of ["rows", "columns"]) {
    const list = lists[axis];
    const other = axis === "rows" ? "columns" : "rows";
    const entries = state[axis];
    const chips = entries.map((entry, index) => {
      const shown = effectiveEntry(model, state, entry);
      const label = model.levelLabel(entry);
      const chip = element("li", { className: "axis-chip", draggable: "true", "data-ref": formatLevelRef(entry) });
      chip.append(element("span", { className: "chip-dimension", text: model.dimensionLabel(entry.dimension) }));
      chip.append(element("span", { className: "chip-level", text: label }));
      if (shown.level !== entry.level) {
        chip.append(element("span", { className: "chip-drilled", title: "drilled into a member", text: `→ ${model.levelLabel(shown)}` }));
      }
      const button = (text, aria, onClick, disabled = false) => {
        const node = element("button", { type: "button", className: "mini", "aria-label": aria, title: aria, text, disabled: disabled || null });
        node.addEventListener("click", onClick);
        chip.append(node);
      };
      button("◀", `Move ${label} earlier`, () => handlers.onMove({ entry, from: { axis, index }, to: { axis, index: index - 1 } }), index === 0);
      button("▶", `Move ${label} later`, () => handlers.onMove({ entry, from: { axis, index }, to: { axis, index: index + 2 } }), index === entries.length - 1);
      button(axis === "rows" ? "⤴" : "⤵", `Move ${label} to ${other}`, () =>
        handlers.onMove({ entry, from: { axis, index }, to: { axis: other, index: state[other].length } }),
      );
      button("×", `Remove ${label} from ${axis}`, () => handlers.onRemove(axis, index));
      chip.addEventListener("dragstart", (event) => {
        event.dataTransfer.setData(CHIP_TYPE, JSON.stringify({ axis, index }));
        event.dataTransfer.setData(LEVEL_TYPE, formatLevelRef(entry));
        event.dataTransfer.effectAllowed = "move";
        document.body.classList.add("dragging");
      });
      chip.addEventListener("dragend", () => document.body.classList.remove("dragging"));
      return chip;
    });
    if (!chips.length) chips.push(element("li", { className: "axis-empty", text: "Drop a level here" }));
    list.replaceChildren(...chips);
    list.ondragover = (event) => {
      if ([...event.dataTransfer.types].some((type) => type === LEVEL_TYPE || type === CHIP_TYPE)) {
        event.preventDefault();
        list.classList.add("drop-target");
      }
    };
    list.ondragleave = () => list.classList.remove("drop-target");
    list.ondrop = (event) => {
      event.preventDefault();
      list.classList.remove("drop-target");
      document.body.classList.remove("dragging");
      const entry = parseLevelRef(event.dataTransfer.getData(LEVEL_TYPE));
      if (!entry) return;
      const chip = event.dataTransfer.getData(CHIP_TYPE);
      const from = chip ? JSON.parse(chip) : null;
      handlers.onMove({ entry, from, to: { axis, index: dropIndex(list, event) } });
    };
  }
}

/**
 * The state after moving ``entry`` (from a shelf position, or new from the field list) to ``to``:
 * ``to.index`` is an insertion point counted before the entry leaves its place. One level per dimension:
 * another level of the same dimension, wherever it was, gives way.
 */
export function placeEntry(state, { entry, from, to }) {
  const axes = { rows: state.rows.slice(), columns: state.columns.slice() };
  let index = to.index;
  if (from) {
    axes[from.axis].splice(from.index, 1);
    if (from.axis === to.axis && from.index < index) index -= 1;
  }
  for (const axis of ["rows", "columns"]) {
    const found = axes[axis].findIndex((item) => item.dimension === entry.dimension);
    if (found >= 0) {
      axes[axis].splice(found, 1);
      if (axis === to.axis && found < index) index -= 1;
    }
  }
  index = Math.max(0, Math.min(index, axes[to.axis].length));
  axes[to.axis].splice(index, 0, entry);
  return { ...state, rows: axes.rows, columns: axes.columns };
}
