// The explorer's whole state, and its URL form (so every view can be bookmarked and shared, and the
// browser's back and forward buttons step through views). parseState(formatState(s)) equals s.
//
//   ?cube=fixed_line_revenue
//   &rows=geography:province,product:line     levels on rows (dim[@hierarchy]:level, comma-separated)
//   &columns=time:quarter                      levels on columns
//   &measures=revenue,subscribers
//   &cut=product:data_services                 filters, one cut each (the cut grammar), repeated
//   &drill=geography:domestic,asia,cn,south_china,gd   a drilled member per dimension (a point cut), repeated
//   &calc=share(revenue, total)                analyst calculations, repeated
//   &sort=desc:revenue:2025,1                  direction:measure[:column member path]; no path = the total
//                                              column; #N instead of a measure = the Nth row header
//   &page=2&cpage=1&size=100&chart=revenue

import { formatPath, parseCut, pointCut } from "./cuts.js";
import { formatLevelRef, parseLevelRef } from "./model.js";

export const PAGE_SIZES = [50, 100, 250, 500];
export const DEFAULT_PAGE_SIZE = 100;

export function emptyState(cube = null) {
  return {
    cube,
    rows: [],
    columns: [],
    measures: [],
    cuts: [],
    drills: [],
    calcs: [],
    sort: null,
    page: 1,
    cpage: 1,
    size: DEFAULT_PAGE_SIZE,
    chart: null,
  };
}

function levels(text) {
  return (text || "")
    .split(",")
    .map((part) => parseLevelRef(part.trim()))
    .filter(Boolean);
}

function positive(text, fallback) {
  const value = Number.parseInt(text, 10);
  return Number.isInteger(value) && value > 0 ? value : fallback;
}

export function parseSort(text) {
  if (!text) return null;
  const first = text.indexOf(":");
  if (first < 0) return null;
  const direction = text.slice(0, first);
  if (direction !== "asc" && direction !== "desc") return null;
  const rest = text.slice(first + 1);
  const second = rest.indexOf(":");
  const target = second < 0 ? rest : rest.slice(0, second);
  const sort = { descending: direction === "desc", measure: null, header: null, column: null };
  if (target.startsWith("#")) {
    const header = Number.parseInt(target.slice(1), 10);
    if (!Number.isInteger(header) || header < 0) return null;
    return { ...sort, header };
  }
  if (!target) return null;
  if (second < 0) return { ...sort, measure: target };
  const column = rest.slice(second + 1);
  // The column member's path in the cut grammar (parsed by a dummy point cut).
  return { ...sort, measure: target, column: parseCut(`x:${column}`).path };
}

export function formatSort(sort) {
  if (!sort) return "";
  const direction = sort.descending ? "desc" : "asc";
  if (sort.header !== null && sort.header !== undefined) return `${direction}:#${sort.header}`;
  return sort.column ? `${direction}:${sort.measure}:${formatPath(sort.column)}` : `${direction}:${sort.measure}`;
}

function parseDrill(text) {
  try {
    const cut = parseCut(text);
    return cut.kind === "point" && !cut.invert ? { dimension: cut.dimension, hierarchy: cut.hierarchy, path: cut.path } : null;
  } catch {
    return null;
  }
}

export function parseState(search) {
  const params = new URLSearchParams(search);
  const state = emptyState(params.get("cube") || null);
  state.rows = levels(params.get("rows"));
  state.columns = levels(params.get("columns"));
  state.measures = (params.get("measures") || "").split(",").map((name) => name.trim()).filter(Boolean);
  state.cuts = params.getAll("cut").filter(Boolean);
  state.drills = params.getAll("drill").map(parseDrill).filter(Boolean);
  state.calcs = params.getAll("calc").filter(Boolean);
  try {
    state.sort = parseSort(params.get("sort"));
  } catch {
    state.sort = null;
  }
  state.page = positive(params.get("page"), 1);
  state.cpage = positive(params.get("cpage"), 1);
  state.size = PAGE_SIZES.includes(positive(params.get("size"), 0)) ? positive(params.get("size"), 0) : DEFAULT_PAGE_SIZE;
  state.chart = params.get("chart") || null;
  return state;
}

export function formatState(state) {
  const params = new URLSearchParams();
  if (state.cube) params.set("cube", state.cube);
  if (state.rows.length) params.set("rows", state.rows.map(formatLevelRef).join(","));
  if (state.columns.length) params.set("columns", state.columns.map(formatLevelRef).join(","));
  if (state.measures.length) params.set("measures", state.measures.join(","));
  for (const cut of state.cuts) params.append("cut", cut);
  for (const drill of state.drills) params.append("drill", pointCut(drill.dimension, drill.hierarchy, drill.path));
  for (const calc of state.calcs) params.append("calc", calc);
  if (state.sort) params.set("sort", formatSort(state.sort));
  if (state.page > 1) params.set("page", String(state.page));
  if (state.cpage > 1) params.set("cpage", String(state.cpage));
  if (state.size !== DEFAULT_PAGE_SIZE) params.set("size", String(state.size));
  if (state.chart) params.set("chart", state.chart);
  // The cut grammar's characters read better unescaped, and URLSearchParams parses them back alike.
  const readable = { "%2C": ",", "%3A": ":", "%28": "(", "%29": ")", "%21": "!", "%3B": ";", "%40": "@" };
  return params.toString().replace(/%2C|%3A|%28|%29|%21|%3B|%40/g, (escaped) => readable[escaped]);
}

export function cloneState(state) {
  return structuredClone(state);
}

/** The drill on a dimension (the member the view is drilled into), or null. */
export function drillOf(state, dimension) {
  return state.drills.find((drill) => drill.dimension === dimension) || null;
}

/**
 * The levels actually queried: a level on an axis whose dimension is drilled into a member below it
 * shows that member's children (the next level of the hierarchy).
 */
export function effectiveEntry(model, state, entry) {
  const drill = drillOf(state, entry.dimension);
  if (!drill || (drill.hierarchy || null) !== (entry.hierarchy || null)) return entry;
  const hierarchyLevels = model.levelsOf(entry.dimension, entry.hierarchy);
  const depth = model.depthOf(entry);
  if (drill.path.length <= depth || drill.path.length >= hierarchyLevels.length) return entry;
  return { ...entry, level: hierarchyLevels[drill.path.length].name };
}

/** Every cut the query carries: the filters, then a point cut per drill. */
export function queryCuts(state) {
  return [...state.cuts, ...state.drills.map((drill) => pointCut(drill.dimension, drill.hierarchy, drill.path))];
}

/** What the server is asked (sorting, paging and the chart's measure are the page's own business). */
export function querySignature(state) {
  return JSON.stringify([state.cube, state.rows, state.columns, state.measures, queryCuts(state), state.calcs]);
}
