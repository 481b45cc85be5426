// The chart beside the table, chosen to fit the question: the rows along the x axis (the columns when only
// columns are set); a line when that axis is time, bars otherwise; one series per column member, stacked
// when the measure adds up across them (a distinct count or a ratio is grouped instead). It follows the
// table's sort and page. Chart.js is the vendored UMD build (window.Chart).

import { columnLabel, compactFormatterFor, describeColumn, formatterFor } from "./format.js";
import { memberText } from "./table.js";

export const MAX_SERIES = 12;
const PALETTE = ["#2f6fd6", "#e4794a", "#2aa198", "#c7468b", "#8a6fd6", "#d9a521", "#4c9b4f", "#b5533c", "#3a8fb7", "#7a7f87", "#9c6b30", "#5d5fc8"];

function rowText(model, row) {
  return row.members.map((member) => memberText(model, member)).join(" · ") || "All";
}

function columnText(model, column) {
  return column.members.map((member) => memberText(model, member)).join(" · ") || "All";
}

function isAdditive(model, valueName) {
  const { measure, kind, calculation } = describeColumn(model, valueName);
  if (kind !== "measure") return false;
  if (calculation && calculation.startsWith("moving_avg")) return false;
  return Boolean(measure && measure.additive);
}

/**
 * What to draw: {kind: "line" | "bar", stacked, labels, datasets: [{label, data, color}], rows (along x, or
 * null when the x axis is the columns), note}.
 * ``rows``: the table's rows in their order on the current page (a line over time puts them in time order).
 */
export function chartSpec(model, grid, rows, valueName) {
  const value = grid.valueNames.indexOf(valueName);
  if (value < 0) return null;
  const hasRows = grid.rowEntries.length > 0;
  const hasColumns = grid.columnEntries.length > 0;
  const notes = [];
  const xEntries = hasRows ? grid.rowEntries : grid.columnEntries;
  const last = xEntries[xEntries.length - 1];
  const kind = last && model.isTime(last.dimension) ? "line" : "bar";
  if (kind === "line" && hasRows) {
    // A line over time runs in time order, whatever the table is sorted by (the page's rows, in order).
    const position = new Map(grid.rows.map((row, index) => [row, index]));
    rows = rows.slice().sort((a, b) => position.get(a) - position.get(b));
  }
  let labels;
  let datasets;
  if (hasRows) {
    labels = rows.map((row) => rowText(model, row));
    const series = hasColumns ? grid.columns.slice(0, MAX_SERIES) : [grid.columns[0]];
    if (hasColumns && grid.columns.length > MAX_SERIES) notes.push(`first ${MAX_SERIES} of ${grid.columns.length} columns`);
    // The first series are the first column members (the table's order), so a position is a column index.
    datasets = series.map((column, c) => ({
      label: hasColumns ? columnText(model, column) : columnLabel(model, valueName),
      data: rows.map((row) => row.cells[c][value]),
    }));
  } else if (hasColumns) {
    labels = grid.columns.map((column) => columnText(model, column));
    datasets = [{ label: columnLabel(model, valueName), data: grid.columns.map((_, c) => grid.rows[0].cells[c][value]) }];
  } else {
    labels = ["All"];
    datasets = [{ label: columnLabel(model, valueName), data: [grid.rows[0].cells[0][value]] }];
  }
  const stacked = kind === "bar" && hasRows && hasColumns && isAdditive(model, valueName);
  if (kind === "bar" && hasRows && hasColumns && !stacked) notes.push("grouped: this measure does not add up across columns");
  const colored = datasets.map((set, index) => ({ ...set, color: PALETTE[index % PALETTE.length] }));
  return { kind, stacked, labels, datasets: colored, rows: hasRows ? rows : null, note: notes.join("; ") };
}

let chart = null;

/** Draw ``spec`` on ``canvas`` (replacing the chart drawn before); onPick(index) when a point is clicked. */
export function renderChart(canvas, model, spec, valueName, onPick) {
  if (chart) {
    chart.destroy();
    chart = null;
  }
  const box = canvas.parentElement;
  if (!spec) {
    box.dataset.kind = "none";
    return;
  }
  box.dataset.kind = spec.stacked ? "bar-stacked" : spec.kind;
  box.dataset.drawn = "false";
  if (typeof window.Chart !== "function") {
    box.dataset.kind = "unavailable";
    throw new Error("the chart library did not load; the table is complete without it");
  }
  const format = formatterFor(model, valueName);
  const tick = compactFormatterFor(model, valueName);
  const many = spec.labels.length > 40;
  chart = new window.Chart(canvas, {
    type: spec.kind,
    data: {
      labels: spec.labels,
      datasets: spec.datasets.map((set) => ({
        label: set.label,
        data: set.data,
        borderColor: set.color,
        backgroundColor: spec.kind === "line" ? set.color : set.color + "cc",
        borderWidth: spec.kind === "line" ? 2 : 0,
        pointRadius: spec.kind === "line" && !many ? 3 : 0,
        cubicInterpolationMode: "monotone", // smooth, but never overshooting the points
        spanGaps: false,
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      // data-drawn tells a test (or a screenshot) that the bars or lines stand where they will stay.
      animation: { duration: 250, onComplete: () => { box.dataset.drawn = "true"; } },
      // A click or hover anywhere above an x position means that member (every series at it in the tooltip).
      interaction: { mode: "index", intersect: false },
      plugins: {
        legend: { display: spec.datasets.length > 1, position: "bottom", labels: { boxWidth: 12, usePointStyle: true } },
        tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${format(item.raw)}` } },
      },
      scales: {
        x: { stacked: spec.stacked, ticks: { autoSkip: true, maxRotation: 60 }, grid: { display: false } },
        y: { stacked: spec.stacked, beginAtZero: spec.kind === "bar", ticks: { callback: (value) => tick(value) } },
      },
      onClick: (_, elements) => {
        if (elements.length && onPick) onPick(elements[0].index);
      },
    },
  });
}
