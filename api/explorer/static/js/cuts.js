// The cut grammar (README "The cut grammar"), as the server parses it: cube_server/cut_syntax.py.
// `|` separates cuts, `:` dimension from value, `,` path elements, `;` set members, `-` range ends;
// a backslash escapes any of \ ! | : ; , - _ and `__null__` is the NULL member.

export const NULL_ELEMENT = "__null__";
const ESCAPED_ON_OUTPUT = new Set(["\\", "!", "|", ":", ";", ",", "-"]);
const ESCAPABLE = new Set([...ESCAPED_ON_OUTPUT, "_"]);
const DIMSPEC = /^(!)?([A-Za-z_][A-Za-z0-9_]*)(?:@([A-Za-z_][A-Za-z0-9_]*))?$/;

/** One path element as the server's format_path writes it (null is the NULL member). */
export function formatElement(value) {
  if (value === null || value === undefined) return NULL_ELEMENT;
  const text = String(value);
  let escaped = "";
  for (const char of text) escaped += ESCAPED_ON_OUTPUT.has(char) ? "\\" + char : char;
  // The literal text "__null__" (not the NULL member) keeps one escaped underscore.
  return text === NULL_ELEMENT ? "\\" + escaped : escaped;
}

export function formatPath(path) {
  return path.map(formatElement).join(",");
}

export function dimensionSpec(dimension, hierarchy, invert = false) {
  return (invert ? "!" : "") + dimension + (hierarchy ? "@" + hierarchy : "");
}

export function pointCut(dimension, hierarchy, path, invert = false) {
  return `${dimensionSpec(dimension, hierarchy, invert)}:${formatPath(path)}`;
}

export function setCut(dimension, hierarchy, paths, invert = false) {
  return `${dimensionSpec(dimension, hierarchy, invert)}:${paths.map(formatPath).join(";")}`;
}

export function rangeCut(dimension, hierarchy, from, to, invert = false) {
  return `${dimensionSpec(dimension, hierarchy, invert)}:${from ? formatPath(from) : ""}-${to ? formatPath(to) : ""}`;
}

function tokens(text) {
  const result = [];
  const chars = [...text];
  for (let index = 0; index < chars.length; index += 1) {
    const char = chars[index];
    if (char === "\\" && index + 1 < chars.length && ESCAPABLE.has(chars[index + 1])) {
      result.push([chars[index + 1], true]);
      index += 1;
    } else {
      result.push([char, false]);
    }
  }
  return result;
}

function split(list, separator) {
  const parts = [[]];
  for (const [char, escaped] of list) {
    if (char === separator && !escaped) parts.push([]);
    else parts[parts.length - 1].push([char, escaped]);
  }
  return parts;
}

function has(list, separator) {
  return list.some(([char, escaped]) => char === separator && !escaped);
}

function element(list) {
  const text = list.map(([char]) => char).join("");
  return text === NULL_ELEMENT && !list.some(([, escaped]) => escaped) ? null : text;
}

function path(list) {
  return split(list, ",").map(element);
}

/** Text of one cut re-escaped (a piece of a `|`-separated string keeps its escapes). */
function unsplit(list) {
  return list.map(([char, escaped]) => (escaped ? "\\" + char : char)).join("");
}

/** A `|`-separated cut string as the list of its cuts' texts. */
export function splitCuts(text) {
  if (!text) return [];
  return split(tokens(text), "|").map(unsplit).filter((piece) => piece.length > 0);
}

/**
 * One cut: {invert, dimension, hierarchy, kind: "point" | "set" | "range", path | paths | from, to}.
 * Path elements are strings (or null for the NULL member), as the server reads them. Throws on bad syntax.
 */
export function parseCut(text) {
  const parts = split(tokens(text), ":");
  if (parts.length !== 2) throw new Error(`not a cut: ${text}`);
  const match = DIMSPEC.exec(parts[0].map(([char]) => char).join(""));
  if (!match || parts[0].some(([, escaped]) => escaped)) throw new Error(`not a dimension in cut: ${text}`);
  const cut = { invert: Boolean(match[1]), dimension: match[2], hierarchy: match[3] || null };
  const value = parts[1];
  if (!has(value, ";") && !has(value, "-")) return { ...cut, kind: "point", path: path(value) };
  if (has(value, ";") && !has(value, "-")) return { ...cut, kind: "set", paths: split(value, ";").map(path) };
  const ends = split(value, "-");
  if (ends.length !== 2 || has(value, ";")) throw new Error(`a range has exactly one unescaped '-': ${text}`);
  const [from, to] = ends.map((end) => (end.length ? path(end) : null));
  return { ...cut, kind: "range", from, to };
}
