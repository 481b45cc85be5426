// The explorer's controller: the state lives in the URL; every change pushes a history entry, re-renders
// the controls, and runs the query when what the server is asked changed (sorting, paging and the chart's
// measure only re-draw). Failures become a readable message; the page never goes blank.

import { ApiError, apiUrl, cubePath, getJson, runOperation } from "./api.js";
import { placeEntry, renderAxes } from "./axes.js";
import { renderBreadcrumbs } from "./breadcrumbs.js";
import { chartSpec, renderChart } from "./chart-view.js";
import { pointCut } from "./cuts.js";
import { renderCalculations, renderDimensions, renderMeasures } from "./fields.js";
import { openFilterDialog, renderFilterChips, resolveCutLabels } from "./filters.js";
import { columnLabel } from "./format.js";
import { buildGrid, summaryGrid } from "./grid.js";
import { CubeModel, formatLevelRef } from "./model.js";
import { cloneState, effectiveEntry, emptyState, formatState, parseState, queryCuts, querySignature } from "./state.js";
import { renderPager, renderTable } from "./table.js";

const $ = (id) => document.getElementById(id);
const app = {
  cubes: [],
  model: null,
  state: emptyState(),
  result: null, // {signature, grid, calcMeta}
  controller: null,
  memberTexts: new Map(), // JSON of a member path's keys (as text) -> how it reads
  renders: 0,
};

// ---- messages -------------------------------------------------------------------------------------
function showMessage(text, kind = "error") {
  const box = $("message");
  box.replaceChildren();
  box.className = `message ${kind}`;
  box.append(document.createTextNode(text));
  const close = document.createElement("button");
  close.type = "button";
  close.className = "chip-remove";
  close.setAttribute("aria-label", "Dismiss message");
  close.textContent = "×";
  close.addEventListener("click", () => {
    box.hidden = true;
  });
  box.append(close);
  box.hidden = false;
}

function clearMessage() {
  $("message").hidden = true;
}

function describeError(error) {
  if (error instanceof ApiError) {
    const reference = error.requestId ? `, request ${error.requestId.slice(0, 12)}` : "";
    return `${error.message} (${error.code}${reference})`;
  }
  return error && error.message ? error.message : String(error);
}

function settle(state) {
  document.body.dataset.state = state;
  app.renders += 1;
  document.body.dataset.renderCount = String(app.renders);
}

window.addEventListener("error", (event) => showMessage(`Something went wrong in the explorer: ${event.message}`));
window.addEventListener("unhandledrejection", (event) => {
  showMessage(`Something went wrong in the explorer: ${describeError(event.reason)}`);
  settle("error");
});

// ---- state ----------------------------------------------------------------------------------------
function defaultState(model) {
  const state = emptyState(model.name);
  const time = model.dimensions.find((dimension) => dimension.role === "time");
  const other = model.dimensions.find((dimension) => dimension.role !== "time");
  const top = (dimension) => ({ dimension: dimension.name, hierarchy: null, level: model.levelsOf(dimension.name, null)[0].name });
  if (other) state.rows = [top(other)];
  if (time) state.columns = [top(time)];
  state.measures = model.measures.length ? [model.measures[0].name] : [];
  return state;
}

/** Keep what the model knows; say what a link named that it does not. */
function checkState(model, state) {
  const dropped = [];
  for (const axis of ["rows", "columns"]) {
    const kept = [];
    for (const entry of state[axis]) {
      const valid = model.validEntry(entry);
      if (valid && !kept.some((item) => item.dimension === valid.dimension)) kept.push(valid);
      else dropped.push(formatLevelRef(entry));
    }
    state[axis] = kept;
  }
  state.measures = state.measures.filter((name) => model.measure(name) || (dropped.push(name), false));
  state.drills = state.drills.filter((drill) => model.dimension(drill.dimension) || (dropped.push(drill.dimension), false));
  if (!state.measures.length && model.measures.length) state.measures = [model.measures[0].name];
  if (dropped.length) showMessage(`This cube has no ${dropped.join(", ")}; left out of the view.`, "warning");
  return state;
}

function apply(change, { push = true } = {}) {
  const before = querySignature(app.state);
  const next = cloneState(app.state);
  change(next);
  if (querySignature(next) !== before) {
    next.page = 1;
    next.cpage = 1;
  }
  app.state = next;
  const url = `${location.pathname}?${formatState(next)}`;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
  render();
}

// ---- queries --------------------------------------------------------------------------------------
function axes(state) {
  return {
    rows: state.rows.map((entry) => effectiveEntry(app.model, state, entry)),
    columns: state.columns.map((entry) => effectiveEntry(app.model, state, entry)),
  };
}

function queryParams(state) {
  const { rows, columns } = axes(state);
  return {
    rows: rows.map(formatLevelRef).join(","),
    columns: columns.map(formatLevelRef).join(","),
    measures: state.measures.join(","),
    cut: queryCuts(state),
  };
}

async function fetchGrid(state, signal) {
  const { rows, columns } = axes(state);
  const params = queryParams(state);
  if (!rows.length && !columns.length) {
    const answer = await runOperation(state.cube, "aggregate", { cut: params.cut, measures: params.measures }, { signal });
    return { grid: summaryGrid(answer), calcMeta: null };
  }
  const pivot = await runOperation(state.cube, "pivot", params, { signal });
  let calculated = null;
  if (state.calcs.length) {
    calculated = await runOperation(
      state.cube,
      "aggregate",
      { drilldown: [...rows, ...columns].map(formatLevelRef), measures: params.measures, cut: params.cut, calc: state.calcs, version: pivot.meta.version },
      { signal },
    );
  }
  return { grid: buildGrid(app.model, rows, columns, pivot, calculated), calcMeta: calculated ? calculated.meta : null };
}

async function runQuery(signature) {
  if (app.controller) app.controller.abort();
  const controller = new AbortController();
  app.controller = controller;
  document.body.dataset.state = "loading";
  $("status").textContent = "Running…";
  try {
    const { grid, calcMeta } = await fetchGrid(app.state, controller.signal);
    if (controller.signal.aborted) return;
    app.result = { signature, grid, calcMeta };
    for (const column of grid.columns) rememberMembers(column.members);
    renderResults();
    settle("ready");
  } catch (error) {
    if (error.name === "AbortError" || controller.signal.aborted) return;
    app.result = null;
    showFailure(error);
    settle("error");
  }
}

function rememberMembers(members) {
  for (const member of members) {
    app.memberTexts.set(JSON.stringify(member.keys.map((key) => String(key ?? ""))), app.model.memberText(member.entry.dimension, member.entry.hierarchy, member.keys, member.labels));
  }
}

function showFailure(error) {
  const text = describeError(error);
  showMessage(`This view could not be computed: ${text}`);
  const panel = document.createElement("div");
  panel.className = "table-error";
  const explanation = document.createElement("p");
  explanation.textContent = `No table: ${text}`;
  panel.append(explanation);
  // Ways out, so an error is never a dead end.
  const way = (label, onClick) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "button small";
    button.textContent = label;
    button.addEventListener("click", onClick);
    panel.append(button, " ");
  };
  if (app.state.calcs.length) way("Remove the calculations", () => apply((next) => { next.calcs = []; }));
  if (history.length > 1) way("Back to the previous view", () => history.back());
  way("Start over", () => openView(emptyState(app.state.cube), true));
  $("table-scroll").replaceChildren(panel);
  $("pager").replaceChildren();
  $("status").textContent = "The query failed.";
  $("chart-measure").replaceChildren();
  $("chart-note").textContent = "";
  renderChart($("chart"), app.model, null, null, null);
}

// ---- rendering ------------------------------------------------------------------------------------
function render() {
  const { model, state } = app;
  $("cube-select").value = state.cube;
  renderMeasures($("measure-list"), model, state, (name, checked) =>
    apply((next) => {
      next.measures = checked ? [...next.measures.filter((item) => item !== name), name] : next.measures.filter((item) => item !== name);
      next.measures = model.measures.map((item) => item.name).filter((item) => next.measures.includes(item));
      if (!next.measures.length) next.measures = [name]; // at least one measure: un-ticking the last keeps it
    }),
  );
  renderDimensions($("dimension-list"), model, state, {
    onPlace: (entry, axis) => apply((next) => moveEntry(next, { entry, from: null, to: { axis, index: next[axis].length } })),
    onFilter: (entry) => addFilter(entry),
  });
  renderAxes({ rows: $("rows-axis"), columns: $("columns-axis") }, model, state, {
    onMove: (move) => apply((next) => moveEntry(next, move)),
    onRemove: (axis, index) => apply((next) => next[axis].splice(index, 1)),
  });
  renderFilterChips($("filter-list"), model, state, app.memberTexts, (index) => apply((next) => next.cuts.splice(index, 1)));
  renderBreadcrumbs($("breadcrumbs"), model, state, app.memberTexts, {
    onRollUp: (dimension, path) =>
      apply((next) => {
        next.drills = next.drills.filter((drill) => drill.dimension !== dimension || path);
        for (const drill of next.drills) if (drill.dimension === dimension) drill.path = path;
      }),
  });
  renderCalculations($("calc-form"), $("calc-list"), model, state, {
    onAdd: (calc) => apply((next) => {
      if (!next.calcs.includes(calc)) next.calcs.push(calc);
    }),
    onRemove: (calc) => apply((next) => {
      next.calcs = next.calcs.filter((item) => item !== calc);
    }),
  });
  updateExports();
  const signature = querySignature(state);
  if (app.result && app.result.signature === signature) {
    renderResults();
    settle("ready");
  } else {
    runQuery(signature);
  }
}

function moveEntry(state, move) {
  // A level chosen afresh for a dimension starts that dimension over: its drill is undone.
  if (!move.from) state.drills = state.drills.filter((drill) => drill.dimension !== move.entry.dimension);
  const placed = placeEntry(state, move);
  state.rows = placed.rows;
  state.columns = placed.columns;
}

async function addFilter(entry) {
  const cut = await openFilterDialog($("filter-dialog"), app.model, entry, app.memberTexts);
  if (cut) apply((next) => next.cuts.push(cut));
}

function drillInto(member, text) {
  const { dimension, hierarchy } = member.entry;
  const path = member.keys.map((key) => (key === null || key === undefined ? null : String(key)));
  app.memberTexts.set(JSON.stringify(path.map((key) => key ?? "")), text);
  apply((next) => {
    next.drills = next.drills.filter((drill) => drill.dimension !== dimension);
    next.drills.push({ dimension, hierarchy, path });
  });
}

function renderResults() {
  const { model, state } = app;
  const { grid, calcMeta } = app.result;
  const info = renderTable($("table-scroll"), model, grid, state, {
    onSort: (sort) => apply((next) => {
      next.sort = sort;
      next.page = 1;
    }),
    onDrill: drillInto,
  });
  renderPager($("pager"), info, state, (change) => apply((next) => Object.assign(next, change)));
  renderChartPanel(grid, info);
  renderStatus(grid, calcMeta, info);
}

function renderChartPanel(grid, info) {
  const { model, state } = app;
  const select = $("chart-measure");
  const chosen = grid.valueNames.includes(state.chart) ? state.chart : grid.valueNames[0];
  select.replaceChildren(
    ...grid.valueNames.map((name) => {
      const option = document.createElement("option");
      option.value = name;
      option.textContent = columnLabel(model, name);
      option.selected = name === chosen;
      return option;
    }),
  );
  select.onchange = () => apply((next) => {
    next.chart = select.value;
  });
  const spec = chartSpec(model, grid, info.visibleRows, chosen);
  $("chart-note").textContent = spec && spec.note ? spec.note : "";
  const onPick = (index) => {
    if (grid.rowEntries.length) {
      const row = info.visibleRows[index];
      const member = row && row.members[row.members.length - 1];
      if (member && model.depthOf(member.entry) < model.levelsOf(member.entry.dimension, member.entry.hierarchy).length - 1) {
        drillInto(member, model.memberText(member.entry.dimension, member.entry.hierarchy, member.keys, member.labels));
      }
    }
  };
  try {
    renderChart($("chart"), model, spec, chosen, onPick);
  } catch (error) {
    $("chart-note").textContent = error.message;
  }
}

function renderStatus(grid, calcMeta, info) {
  const meta = grid.meta;
  const status = $("status");
  status.replaceChildren();
  const source = document.createElement("a");
  source.href = explainUrl();
  source.target = "_blank";
  source.rel = "noopener";
  source.className = "source";
  source.title = "the plan: why this source";
  source.textContent = meta.source;
  const parts = [document.createTextNode("Answered from "), source, document.createTextNode(` in ${Math.round(meta.elapsed_ms)} ms`)];
  if (calcMeta) parts.push(document.createTextNode(` · calculations ${Math.round(calcMeta.elapsed_ms)} ms`));
  parts.push(document.createTextNode(` · ${info.rowCount} ${info.rowCount === 1 ? "row" : "rows"}`));
  status.title = [
    `store version ${meta.version}`,
    ...(meta.sources ? Object.entries(meta.sources).map(([part, from]) => `${part}: ${from}`) : []),
    ...(calcMeta ? [`calculations: ${calcMeta.source}`] : []),
  ].join("\n");
  status.append(...parts);
  status.dataset.source = meta.source;
  status.dataset.elapsedMs = String(meta.elapsed_ms);
  status.dataset.version = meta.version;
}

function explainUrl() {
  const { rows, columns } = axes(app.state);
  const params = queryParams(app.state);
  const operation = rows.length || columns.length ? "pivot" : "aggregate";
  return apiUrl(cubePath(app.state.cube, "explain"), { operation, ...params });
}

function updateExports() {
  const { state } = app;
  const { rows, columns } = axes(state);
  const params = queryParams(state);
  const hasAxes = rows.length > 0 || columns.length > 0;
  $("export-csv").href = hasAxes
    ? apiUrl(cubePath(state.cube, "pivot"), { ...params, format: "csv" })
    : apiUrl(cubePath(state.cube, "aggregate"), { cut: params.cut, measures: params.measures, format: "csv" });
  const calcCsv = $("export-calc-csv");
  calcCsv.hidden = !(hasAxes && state.calcs.length);
  calcCsv.href = apiUrl(cubePath(state.cube, "aggregate"), {
    drilldown: [...rows, ...columns].map(formatLevelRef),
    measures: params.measures,
    cut: params.cut,
    calc: state.calcs,
    format: "csv",
  });
  const xlsx = $("export-xlsx");
  xlsx.hidden = !hasAxes;
  xlsx.href = apiUrl(cubePath(state.cube, "workbook"), { ...params, calc: state.calcs });
}

// ---- start ----------------------------------------------------------------------------------------
async function loadCube(name) {
  app.model = new CubeModel(await getJson(cubePath(name)));
  app.result = null;
}

async function start() {
  try {
    app.cubes = await getJson("v1/cubes");
  } catch (error) {
    showMessage(`The cubes could not be listed: ${describeError(error)}`);
    $("status").textContent = "Not connected.";
    settle("error");
    return;
  }
  const select = $("cube-select");
  select.replaceChildren(
    ...app.cubes.map((cube) => {
      const option = document.createElement("option");
      option.value = cube.name;
      option.textContent = cube.label || cube.name;
      return option;
    }),
  );
  if (!app.cubes.length) {
    showMessage("This server has no cubes.", "warning");
    settle("error");
    return;
  }
  select.addEventListener("change", () => openView(emptyState(select.value), true));
  $("copy-link").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      showMessage("Link copied: it opens this very view.", "info");
    } catch {
      showMessage(`Copy this link: ${location.href}`, "info");
    }
  });
  $("swap-axes").addEventListener("click", () => apply((next) => {
    [next.rows, next.columns] = [next.columns, next.rows];
    next.sort = null;
  }));
  window.addEventListener("popstate", () => openView(parseState(location.search), false, { fromHistory: true }));
  await openView(parseState(location.search), false, { replace: true });
}

/** Show ``state`` (from the URL, or a new cube's default view); push a history entry when asked. */
async function openView(state, push, { replace = false, fromHistory = false } = {}) {
  clearMessage();
  let wanted = state.cube || app.cubes[0].name;
  if (!app.cubes.some((cube) => cube.name === wanted)) {
    showMessage(`There is no cube named "${wanted}"; showing ${app.cubes[0].label || app.cubes[0].name}.`, "warning");
    wanted = app.cubes[0].name;
    state = emptyState(wanted);
  }
  try {
    if (!app.model || app.model.name !== wanted) await loadCube(wanted);
  } catch (error) {
    showMessage(`The model of ${wanted} could not be loaded: ${describeError(error)}`);
    settle("error");
    return;
  }
  const empty = !state.rows.length && !state.columns.length && !state.measures.length;
  let next = empty ? defaultState(app.model) : checkState(app.model, { ...state, cube: wanted });
  next = { ...next, cube: wanted };
  await resolveCutLabels(app.model, [...next.cuts, ...next.drills.map((drill) => pointCut(drill.dimension, drill.hierarchy, drill.path))], app.memberTexts);
  app.state = next;
  const url = `${location.pathname}?${formatState(next)}`;
  if (push) history.pushState(null, "", url);
  else if (replace || !fromHistory) history.replaceState(null, "", url);
  render();
}

start();
