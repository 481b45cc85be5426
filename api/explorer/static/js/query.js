// What a view asks the server: the pivot (or the summary, with nothing on rows or columns), the
// calculations as one aggregate over the same levels pinned to the pivot's store version, and the URLs
// of its exports and its explain.

import { apiUrl, cubePath, runOperation } from "./api.js";
import { buildGrid, summaryGrid } from "./grid.js";
import { formatLevelRef } from "./model.js";
import { effectiveEntry, queryCuts } from "./state.js";

/** The levels queried on each axis (drills applied). */
export function viewAxes(model, state) {
  return {
    rows: state.rows.map((entry) => effectiveEntry(model, state, entry)),
    columns: state.columns.map((entry) => effectiveEntry(model, state, entry)),
  };
}

function pivotParams(model, state) {
  const { rows, columns } = viewAxes(model, state);
  return {
    rows: rows.map(formatLevelRef).join(","),
    columns: columns.map(formatLevelRef).join(","),
    measures: state.measures.join(","),
    cut: queryCuts(state),
  };
}

function calculationParams(model, state) {
  const { rows, columns } = viewAxes(model, state);
  return {
    drilldown: [...rows, ...columns].map(formatLevelRef),
    measures: state.measures.join(","),
    cut: queryCuts(state),
    calc: state.calcs,
  };
}

function hasAxes(state) {
  return state.rows.length > 0 || state.columns.length > 0;
}

/** {grid, calcMeta}: the table's content for ``state``. */
export async function fetchGrid(model, state, signal) {
  const params = pivotParams(model, state);
  if (!hasAxes(state)) {
    const answer = await runOperation(state.cube, "aggregate", { cut: params.cut, measures: params.measures }, { signal });
    return { grid: summaryGrid(answer), calcMeta: null };
  }
  const pivot = await runOperation(state.cube, "pivot", params, { signal });
  let calculated = null;
  if (state.calcs.length) {
    const calcParams = { ...calculationParams(model, state), version: pivot.meta.version };
    calculated = await runOperation(state.cube, "aggregate", calcParams, { signal });
  }
  const { rows, columns } = viewAxes(model, state);
  return { grid: buildGrid(model, rows, columns, pivot, calculated), calcMeta: calculated ? calculated.meta : null };
}

/** The export links of the view: {csv, calcCsv (null without calculations), xlsx (null without levels)}. */
export function exportLinks(model, state) {
  const params = pivotParams(model, state);
  if (!hasAxes(state)) {
    const csv = apiUrl(cubePath(state.cube, "aggregate"), { cut: params.cut, measures: params.measures, format: "csv" });
    return { csv, calcCsv: null, xlsx: null };
  }
  return {
    csv: apiUrl(cubePath(state.cube, "pivot"), { ...params, format: "csv" }),
    calcCsv: state.calcs.length ? apiUrl(cubePath(state.cube, "aggregate"), { ...calculationParams(model, state), format: "csv" }) : null,
    xlsx: apiUrl(cubePath(state.cube, "workbook"), { ...params, calc: state.calcs }),
  };
}

/** The plan of the view's query: which cuboid answers it, and why the others do not. */
export function explainUrl(model, state) {
  const params = pivotParams(model, state);
  if (!hasAxes(state)) return apiUrl(cubePath(state.cube, "explain"), { operation: "aggregate", cut: params.cut, measures: params.measures });
  return apiUrl(cubePath(state.cube, "explain"), { operation: "pivot", ...params });
}
