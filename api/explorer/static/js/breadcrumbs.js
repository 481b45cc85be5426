// The drill path of each drilled dimension, as breadcrumbs: "Geography: Province (all) › Guangdong".
// The first crumb undoes the drill (rolls up to the level on the axis); each one between rolls up to it.

import { element } from "./dom.js";

/**
 * handlers: onRollUp(dimension, path | null): null removes the drill. ``memberTexts`` maps the JSON of a
 * path's keys (as text) to how that member reads.
 */
export function renderBreadcrumbs(nav, model, state, memberTexts, handlers) {
  const trails = state.drills.map((drill) => {
    const entry = [...state.rows, ...state.columns].find((item) => item.dimension === drill.dimension);
    const base = entry && (entry.hierarchy || null) === (drill.hierarchy || null) ? model.depthOf(entry) : -1;
    const levels = model.levelsOf(drill.dimension, drill.hierarchy);
    const trail = element("ol", { className: "trail", "aria-label": `${model.dimensionLabel(drill.dimension)} drill path` });
    trail.append(element("li", { className: "trail-name", text: `${model.dimensionLabel(drill.dimension)}:` }));
    const top = element("button", {
      type: "button",
      className: "crumb",
      text: entry && base >= 0 ? `${model.levelLabel(entry)} (all)` : "All",
      "aria-label": `Roll up ${model.dimensionLabel(drill.dimension)} to all`,
    });
    top.addEventListener("click", () => handlers.onRollUp(drill.dimension, null));
    trail.append(element("li", {}, top));
    // Crumbs for the drilled members below the axis level (or the whole path when it is only a cut).
    const first = Math.min(Math.max(1, base + 1), drill.path.length);
    for (let depth = first; depth <= drill.path.length; depth += 1) {
      const path = drill.path.slice(0, depth);
      const key = JSON.stringify(path.map((item) => String(item ?? "")));
      const level = levels[depth - 1];
      const text = memberTexts.get(key) || model.memberText(drill.dimension, drill.hierarchy, path, path) || "(none)";
      const current = depth === drill.path.length;
      const crumb = current
        ? element("span", { className: "crumb current", "aria-current": "location", text, title: level ? level.label : "" })
        : element("button", { type: "button", className: "crumb", text, title: level ? level.label : "", "aria-label": `Roll up to ${text}` });
      if (!current) crumb.addEventListener("click", () => handlers.onRollUp(drill.dimension, path));
      trail.append(element("li", {}, crumb));
    }
    return trail;
  });
  nav.replaceChildren(...trails);
  nav.hidden = trails.length === 0;
}
