// Numbers formatted per measure: the model's "format" ("currency:CNY", "percent"), counts as integers,
// and the analyst calculations' columns (measure__share_total, measure__growth_previous, …) by kind.

const RATIO = /__(share|growth)/;
const RANK = /__(rank|top|bottom)/;

function integerMeasure(measure) {
  return measure && ["count", "count_distinct", "count_nonempty"].includes(measure.function);
}

/**
 * ``integral``: every value of the column is a whole number (a sum of an integer column), so it is shown
 * without decimals; otherwise a fixed number of decimals keeps the column aligned.
 */
function baseOptions(measure, integral = false) {
  const [kind, unit] = String((measure && measure.format) || "").split(":");
  if (kind === "currency" && /^[A-Za-z]{3}$/.test(unit || "")) {
    return { style: "currency", currency: unit.toUpperCase(), currencyDisplay: "narrowSymbol" };
  }
  if (kind === "percent") return { style: "percent", maximumFractionDigits: 2 };
  if (integerMeasure(measure) || integral) return { maximumFractionDigits: 0 };
  const digits = measure && Number.isInteger(measure.scale) ? measure.scale : 2;
  return { minimumFractionDigits: digits, maximumFractionDigits: digits };
}

/** The measure a value column belongs to, and what the column is (measure, ratio, rank or same-unit). */
export function describeColumn(model, name) {
  const [measureName, calculation] = name.split("__");
  const measure = model.measure(measureName);
  if (!calculation) return { measure, kind: "measure", calculation: null };
  if (RATIO.test(name)) return { measure, kind: "ratio", calculation };
  if (RANK.test(name)) return { measure, kind: "rank", calculation };
  return { measure, kind: "measure", calculation };
}

const CALCULATION_WORDS = {
  share_total: "share of total",
  share_parent: "share of parent",
  change_previous: "change on previous",
  change_last_year: "change on last year",
  growth_previous: "growth on previous",
  growth_last_year: "growth on last year",
  ytd: "year to date",
  qtd: "quarter to date",
  rank: "rank",
};

/** "Revenue (CNY)", or "Revenue (CNY): share of total" for a calculation's column. */
export function columnLabel(model, name) {
  const { measure, calculation } = describeColumn(model, name);
  const base = measure ? measure.label : name.split("__")[0];
  if (!calculation) return base;
  const words =
    CALCULATION_WORDS[calculation] ||
    calculation
      .replace(/^moving_avg_(\d+)/, "moving average of $1")
      .replace(/^top_(\d+)/, "top $1")
      .replace(/^bottom_(\d+)/, "bottom $1")
      .replace(/_/g, " ");
  return `${base}: ${words}`;
}

const cache = new Map();

/** A function value -> text for the column ``name`` (a measure or a calculation's column). */
export function formatterFor(model, name, integral = false) {
  const key = `${model.name}/${name}/${integral}`;
  if (cache.has(key)) return cache.get(key);
  const { measure, kind } = describeColumn(model, name);
  let options;
  if (kind === "ratio") options = { style: "percent", minimumFractionDigits: 2, maximumFractionDigits: 2 };
  else if (kind === "rank") options = { maximumFractionDigits: 0 };
  else options = baseOptions(measure, integral);
  const number = new Intl.NumberFormat(undefined, options);
  const format = (value) => (value === null || value === undefined || value === "" ? "" : number.format(Number(value)));
  cache.set(key, format);
  return format;
}

/** Short numbers for chart axes: "¥1.2M", "35K", "12%". */
export function compactFormatterFor(model, name) {
  const key = `${model.name}/${name}/compact`;
  if (cache.has(key)) return cache.get(key);
  const { measure, kind } = describeColumn(model, name);
  const options = kind === "ratio" ? { style: "percent", maximumFractionDigits: 1 } : { ...baseOptions(measure), notation: "compact", maximumFractionDigits: 1 };
  options.minimumFractionDigits = 0;
  const number = new Intl.NumberFormat(undefined, options);
  const format = (value) => (value === null || value === undefined ? "" : number.format(Number(value)));
  cache.set(key, format);
  return format;
}
