"""Hostile inputs, as data: each must be refused with a 4xx in its surface's error shape, and change nothing.

``REQUESTS`` are HTTP requests sent as a server would hand them to the app (a raw path and query string, so
``..`` segments and percent-escapes arrive as an attacker wrote them): SQL injection in every parameter that
names something (cuts, members, order, drilldown, fields, measures, calculations), numbers that are huge,
negative or not numbers, Unicode, control characters and NUL bytes, absurd nesting and size in JSON bodies,
and path traversal in every option that names a file (explorer files, report names, the admin refresh file).
``INERT`` are hostile texts a parameter takes as data (a search, a member key): answered 200 with nothing
found. ``MODEL_FILES`` are model files (``cube-server validate``, model loading): each must be reported as
invalid, never crash the loader.

Placeholders in admin refresh bodies: ``{outside}`` is a valid fact file outside the directory the admin
API may read, ``{escape}`` a link inside that directory pointing to it (a refresh reading either would add
rows, and change the checksums the tests compare); ``{inside}`` a valid fact file inside it, so a refresh
naming it gets as far as its other fields.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import quote

CUBE = "fixed_line_revenue"
V1 = f"/v1/cubes/{CUBE}"
SLICER = f"/cube/{CUBE}"


@dataclass(frozen=True, slots=True)
class Hostile:
    """One request. ``target``: the raw request target (path and query string, as sent on the wire)."""

    id: str
    method: str
    target: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    admin: bool = False  # sent with the admin key (the admin API is on); else with a reader's key
    key: bool = True  # False: sent without the key's header (the headers given are all there is)
    status: int | None = None  # the exact 4xx expected, when it matters


def q(**params: str | list[str]) -> str:
    """A query string, every value percent-encoded (so NUL, control characters and Unicode travel intact)."""
    parts = []
    for name, value in params.items():
        for each in value if isinstance(value, list) else [value]:
            parts.append(f"{name}={quote(each, safe='')}")
    return "&".join(parts)


def get(id: str, path: str, status: int | None = None, **params: str | list[str]) -> Hostile:  # noqa: A002
    return Hostile(id, "GET", f"{path}?{q(**params)}" if params else path, status=status)


def post_json(id: str, path: str, body: object, status: int | None = None, admin: bool = False) -> Hostile:  # noqa: A002
    return Hostile(id, "POST", path, json.dumps(body).encode(), {"content-type": "application/json"}, admin, True,
                   status)  # fmt: skip


def post_raw(id: str, path: str, body: bytes, content_type: str = "application/json", admin: bool = False) -> Hostile:  # noqa: A002
    return Hostile(id, "POST", path, body, {"content-type": content_type}, admin)


# ---- SQL injection ---------------------------------------------------------------------------------------
SQL = {
    "quote_or": "' OR '1'='1",
    "drop_table": "1; DROP TABLE facts; --",
    "union_select": "x' UNION SELECT * FROM read_csv_auto('/etc/passwd') --",
    "copy_out": "'; COPY (SELECT 1) TO '/tmp/cube-server-pwned.csv'; --",
    "attach": "'); ATTACH '/tmp/cube-server-pwned.db' AS pwned; --",
    "double_quote": '" OR ""="',
    "comment": "revenue/**/--",
    "stacked_pragma": "1); PRAGMA threads=1; SELECT (1",
}

REQUESTS: list[Hostile] = []
for name, sql in SQL.items():
    REQUESTS += [
        get(f"v1-cut-dimension-{name}", f"{V1}/aggregate", cut=f"{sql}:2024"),
        get(f"v1-drilldown-{name}", f"{V1}/aggregate", drilldown=sql),
        get(f"v1-measures-{name}", f"{V1}/aggregate", measures=sql),
        get(f"v1-order-{name}", f"{V1}/aggregate", drilldown="time:year", order=sql),
        get(f"v1-fields-{name}", f"{V1}/facts", fields=sql),
        get(f"v1-calc-{name}", f"{V1}/aggregate", drilldown="time:year", calc=sql),
        get(f"v1-members-path-{name}", f"{V1}/members/{quote(sql, safe='')}"),
        get(f"v1-members-level-{name}", f"{V1}/members/geography", level=sql),
        get(f"slicer-cut-{name}", f"{SLICER}/aggregate", cut=f"{sql}:2024"),
        get(f"slicer-drilldown-{name}", f"{SLICER}/aggregate", drilldown=sql),
        get(f"slicer-aggregates-{name}", f"{SLICER}/aggregate", aggregates=sql),
        get(f"slicer-members-path-{name}", f"{SLICER}/members/{quote(sql, safe='')}"),
        post_json(f"v1-query-body-drilldown-{name}", f"{V1}/query", {"drilldown": sql}),
    ]
REQUESTS += [
    get("v1-cube-path-sql", f"/v1/cubes/{quote(SQL['quote_or'], safe='')}/aggregate", 404),
    get("v1-pivot-rows-sql", f"{V1}/pivot", rows=SQL["drop_table"], columns="time:year"),
    get("v1-explain-operation-sql", f"{V1}/explain", operation=SQL["drop_table"]),
    get("v1-rollup-dimension-sql", f"{V1}/rollup", dimension=SQL["quote_or"]),
    get("v1-drilldown-dimension-sql", f"{V1}/drilldown", dimension=SQL["union_select"]),
    get("v1-members-hierarchy-sql", f"{V1}/members/time", hierarchy=SQL["union_select"]),
    get("v1-workbook-rows-sql", f"{V1}/workbook", rows=SQL["copy_out"]),
    get("v1-facts-order-sql", f"{V1}/facts", order=SQL["union_select"]),
    get("slicer-facts-fields-sql", f"{SLICER}/facts", fields=SQL["union_select"]),
    get("slicer-facts-order-sql", f"{SLICER}/facts", order=SQL["copy_out"]),
    get("slicer-order-sql", f"{SLICER}/aggregate", drilldown="time", order=SQL["drop_table"]),
    get("slicer-fact-id-sql", f"{SLICER}/fact/{quote(SQL['quote_or'], safe='')}"),
    get("slicer-members-level-sql", f"{SLICER}/members/time", level=SQL["drop_table"]),
    get("slicer-split-sql", f"{SLICER}/aggregate", split=SQL["quote_or"]),
    get("slicer-calc-sql", f"{SLICER}/aggregate", calc=SQL["attach"]),
    get("slicer-cell-cut-sql", f"{SLICER}/cell", cut=f"{SQL['quote_or']}:1"),
    get("v1-cut-range-sql", f"{V1}/aggregate", cut=f"time:2024-{SQL['drop_table']}"),
    get("v1-cut-path-too-long-sql", f"{V1}/aggregate", cut="time:2024,1,1,1,1,1,1,1,1,1," + SQL["quote_or"]),
    get("report-query-sql", "/v1/reports/monthly_revenue", period="2024-03", format="csv", query=SQL["quote_or"]),
    get("report-period-sql", "/v1/reports/monthly_revenue", period=SQL["drop_table"][:20]),
]

# ---- numbers: huge, negative, not numbers ----------------------------------------------------------------
NUMBERS = {
    "negative": "-1",
    "huge": "9" * 40,
    "int64_overflow": str(2**63),
    "float": "1.5",
    "exponent": "1e9",
    "nan": "NaN",
    "infinity": "Infinity",
    "hex": "0x10",
    "word": "ten",
    "empty_sign": "-",
}
for name, number in NUMBERS.items():
    REQUESTS += [
        get(f"v1-limit-{name}", f"{V1}/facts", limit=number),
        get(f"v1-offset-{name}", f"{V1}/members/time", offset=number),
        get(f"v1-depth-{name}", f"{V1}/drilldown", dimension="time", depth=number),
        get(f"slicer-page-{name}", f"{SLICER}/facts", page=number, pagesize="10"),
        get(f"slicer-pagesize-{name}", f"{SLICER}/members/time", page="0", pagesize=number),
    ]
REQUESTS += [
    get("v1-steps-huge", f"{V1}/rollup", dimension="time", drilldown="time:month", steps="1" + "0" * 30),
    get("v1-depth-zero", f"{V1}/drilldown", dimension="time", depth="0"),
    get("v1-limit-unicode-digits", f"{V1}/facts", limit="\u0661\u0662"),
    get("slicer-pagesize-unicode-digits", f"{SLICER}/facts", page="0", pagesize="\u0661\u0662"),
    get("slicer-depth-huge", f"{SLICER}/members/time", depth="9" * 30),
    get("slicer-depth-negative", f"{SLICER}/members/time", depth="-3"),
    get("v1-cut-range-huge", f"{V1}/aggregate", cut="time:" + "9" * 40 + "-" + "9" * 41),
    get("v1-version-huge", f"{V1}/aggregate", version="9" * 100),
    post_json("v1-query-body-limit-float", f"{V1}/query", {"limit": 1e308}),
    post_json("v1-query-body-offset-negative", f"{V1}/query", {"operation": "facts", "offset": -5}),
    post_json("v1-query-body-depth-huge", f"{V1}/query", {"operation": "drilldown", "dimension": "time",
                                                          "depth": 10**30}),  # fmt: skip
    post_raw("v1-query-body-number-overflow", f"{V1}/query", b'{"limit": 1e999}'),
    post_raw("v1-query-body-nan", f"{V1}/query", b'{"limit": NaN}'),
    post_json("slicer-report-page-huge", f"{SLICER}/report",
              {"queries": {"a": {"query": "facts", "page": 10**30, "page_size": 1}}}),  # fmt: skip
    post_json("slicer-report-page-negative", f"{SLICER}/report",
              {"queries": {"a": {"query": "members", "dimension": "time", "page": -1, "page_size": 1}}}),  # fmt: skip
]

# ---- Unicode, control characters, NUL -------------------------------------------------------------------
TEXTS = {
    "nul": "time\x002024",
    "nul_only": "\x00",
    "control": "\x01\x02\x1b[31m\x7f",
    "newline": "time:2024\r\nX-Injected: 1",
    "rtl_override": "\u202etime:2024",
    "zero_width": "ti\u200bme:2024",
    "emoji": "\U0001f4a5:\U0001f4a3",
    "lone_surrogate_escape": "%ED%A0%80",
    "fullwidth": "\uff54\uff49\uff4d\uff45:2024",
    "combining": "time\u0301:2024",
}
for name, text in TEXTS.items():
    REQUESTS += [
        get(f"v1-cut-text-{name}", f"{V1}/aggregate", cut=text),
        get(f"v1-drilldown-text-{name}", f"{V1}/aggregate", drilldown=text),
        get(f"slicer-cut-text-{name}", f"{SLICER}/aggregate", cut=text),
        get(f"v1-members-path-text-{name}", f"{V1}/members/{quote(text, safe='')}"),
    ]
REQUESTS += [
    Hostile("v1-path-invalid-utf8", "GET", f"{V1}/members/%FF%FE"),
    Hostile("v1-query-invalid-utf8", "GET", f"{V1}/aggregate?drilldown=%FF%FE%C0%AF"),
    Hostile("slicer-path-invalid-utf8", "GET", f"{SLICER}/members/%C0%AE%C0%AE"),
    Hostile("v1-cube-path-nul", "GET", "/v1/cubes/fixed_line_revenue%00/aggregate", status=404),
    Hostile("slicer-cube-path-nul", "GET", "/cube/fixed_line_revenue%00/model", status=404),
    Hostile("v1-key-nul", "GET", "/v1/cubes", headers={"x-api-key": "ck_\x00_\x00"}, key=False, status=401),
    Hostile("v1-key-unicode", "GET", "/v1/cubes", headers={"x-api-key": "ck_\u00e9\u00e9_\u00ff"}, key=False,
            status=401),  # fmt: skip
    Hostile("v1-key-huge", "GET", "/v1/cubes", headers={"x-api-key": "ck_" + "a" * 10_000}, key=False, status=401),
    Hostile("v1-bearer-empty", "GET", "/v1/cubes", headers={"authorization": "Bearer "}, key=False, status=401),
    Hostile("slicer-bearer-jwt-none", "GET", "/cubes", key=False, status=401,
            headers={"authorization": "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}),  # fmt: skip
    get("v1-search-huge", f"{V1}/members/geography", search="x" * 5_000),
    get("v1-cut-huge-set", f"{V1}/aggregate", cut="product:" + ";".join(["x"] * 3_000)),
    get("slicer-cut-huge-set", f"{SLICER}/aggregate", cut="product:" + ";".join(["x"] * 3_000)),
    post_json("v1-query-body-huge-sets", f"{V1}/query", {"cut": ["product:" + ";".join(["x"] * 9_990)] * 40}),
    get("v1-drilldown-many", f"{V1}/aggregate", drilldown=["time:year"] * 65),
    get("v1-format-unknown", f"{V1}/aggregate", format="xml"),
    get("slicer-format-unknown", f"{SLICER}/facts", format="../../etc/passwd"),
    get("slicer-header-unknown", f"{SLICER}/facts", format="csv", header="\x00"),
]

# ---- JSON bodies: nesting, size, shapes -----------------------------------------------------------------
DEEP = 100_000
REQUESTS += [
    post_raw("v1-query-deep-array", f"{V1}/query", b"[" * DEEP + b"]" * DEEP),
    post_raw("v1-query-deep-object", f"{V1}/query", b'{"a":' * DEEP + b"1" + b"}" * DEEP),
    post_raw("v1-query-deep-in-field", f"{V1}/query", b'{"cut": ' + b"[" * DEEP + b"]" * DEEP + b"}"),
    post_raw("v1-query-not-json", f"{V1}/query", b"{cut: time:2024"),
    post_raw("v1-query-body-invalid-utf8", f"{V1}/query", b'{"cut": "\xff\xfe"}'),
    post_raw("v1-query-two-boms", f"{V1}/query", b'\xef\xbb\xbf\xef\xbb\xbf{"cut": "time:2024"}'),
    post_raw("v1-query-nul-body", f"{V1}/query", b"\x00" * 64),
    post_raw("v1-query-empty", f"{V1}/query", b""),
    post_raw("v1-query-null", f"{V1}/query", b"null"),
    post_raw("v1-query-text-plain", f"{V1}/query", b'{"cut": "time:2024"}', content_type="text/plain"),
    post_raw("v1-query-too-large", f"{V1}/query", b'{"cut": "' + b"x" * 1_100_000 + b'"}'),
    post_json("v1-query-long-string", f"{V1}/query", {"cut": "time:" + "9" * 30_000}),
    post_json("v1-query-many-items", f"{V1}/query", {"drilldown": ["time:year"] * 1_000}),
    post_json("v1-query-unknown-field", f"{V1}/query", {"cut": "time:2024", "sql": "SELECT 1"}),
    post_json("v1-query-wrong-type", f"{V1}/query", {"cut": {"$ne": 1}}),
    post_json("v1-query-operation-unknown", f"{V1}/query", {"operation": "DELETE"}),
    post_json("v1-query-proto", f"{V1}/query", {"__proto__": {"admin": True}}),
    post_raw("v1-query-duplicate-keys", f"{V1}/query", b'{"operation": "aggregate", "operation": "explode"}'),
    post_raw("slicer-report-deep-array", f"{SLICER}/report", b"[" * DEEP + b"]" * DEEP),
    post_raw("slicer-report-deep-object", f"{SLICER}/report", b'{"q":' * DEEP + b"{}" + b"}" * DEEP),
    post_raw("slicer-report-deep-cell", f"{SLICER}/report",
             b'{"queries": {}, "cell": ' + b"[" * DEEP + b"]" * DEEP + b"}"),  # fmt: skip
    post_raw("slicer-report-not-json", f"{SLICER}/report", b"queries=1"),
    post_raw("slicer-report-invalid-utf8", f"{SLICER}/report", b'{"queries": "\xc3\x28"}'),
    post_raw("slicer-report-too-large", f"{SLICER}/report", b'{"queries": "' + b"x" * 1_100_000 + b'"}'),
    post_json("slicer-report-no-queries", f"{SLICER}/report", {"cell": []}),
    post_json("slicer-report-too-many-queries", f"{SLICER}/report",
              {"queries": {f"q{i}": {"query": "aggregate"} for i in range(500)}}),  # fmt: skip
    post_json("slicer-report-query-type", f"{SLICER}/report", {"queries": {"a": {"query": ["aggregate"]}}}),
    post_json("slicer-report-cell-object", f"{SLICER}/report", {"queries": {}, "cell": {"type": "point"}}),
    post_json("slicer-report-cell-item", f"{SLICER}/report",
              {"queries": {"a": {"query": "aggregate"}}, "cell": [{"type": "point", "dimension": SQL["quote_or"],
                                                                  "path": [1]}]}),  # fmt: skip
    post_json("slicer-report-cell-nested", f"{SLICER}/report",
              {"queries": {"a": {"query": "aggregate"}}, "cell": [{"type": "set", "dimension": "time",
                                                                  "paths": [[[[["2024"]]]]]}]}),  # fmt: skip
    post_json("slicer-report-drilldown-object", f"{SLICER}/report",
              {"queries": {"a": {"query": "aggregate", "drilldown": {SQL["drop_table"]: None}}}}),  # fmt: skip
    post_json("slicer-report-order-pairs", f"{SLICER}/report",
              {"queries": {"a": {"query": "aggregate", "order": [[{"x": 1}, SQL["quote_or"]]]}}}),  # fmt: skip
    post_json("slicer-report-members-dimension", f"{SLICER}/report",
              {"queries": {"a": {"query": "members", "dimension": {"$gt": ""}}}}),  # fmt: skip
    post_json("slicer-report-fact-id", f"{SLICER}/report", {"queries": {"a": {"query": "fact", "id": [1, 2]}}}),
    post_json("slicer-report-rollup", f"{SLICER}/report",
              {"queries": {"a": {"query": "aggregate", "rollup": [[["time"]]]}}}),  # fmt: skip
    Hostile("slicer-report-get-deep", "GET", f"{SLICER}/report", b"[" * DEEP + b"]" * DEEP,
            {"content-type": "application/json"}),  # fmt: skip
]

# ---- path traversal: explorer files, report names --------------------------------------------------------
TRAVERSALS = {
    "dots": "/explorer/../../../../../../etc/passwd",
    "encoded_dots": "/explorer/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    "encoded_slash": "/explorer/..%2f..%2f..%2f..%2fetc%2fpasswd",
    "double_encoded": "/explorer/%252e%252e/%252e%252e/etc/passwd",
    "overlong_utf8": "/explorer/%c0%ae%c0%ae/%c0%ae%c0%ae/etc/passwd",
    "backslash": "/explorer/..\\..\\..\\..\\etc\\passwd",
    "absolute": "/explorer//etc/passwd",
    "package_source": "/explorer/../site.py",
    "nul": "/explorer/index.html%00.png",
    "parent_app": "/explorer/../../app.py",
}
for name, target in TRAVERSALS.items():
    REQUESTS.append(Hostile(f"explorer-traversal-{name}", "GET", target, key=False, status=404))
REPORT_NAMES = {
    "dots": "../cube-server.toml",
    "encoded": "..%2F..%2Fcube-server.toml",
    "absolute": "/etc/passwd",
    "nul": "monthly_revenue%00.json",
    "json_suffix": "monthly_revenue.json",
    "glob": "*",
    "hidden": ".monthly_revenue",
}
for name, report in REPORT_NAMES.items():
    path = report if "%" in report else quote(report, safe="")
    REQUESTS.append(get(f"report-name-{name}", f"/v1/reports/{path}", 404, period="2024-03"))
REQUESTS += [
    get("report-format-traversal", "/v1/reports/monthly_revenue", period="2024-03", format="../../etc/passwd"),
    get("report-period-traversal", "/v1/reports/monthly_revenue", period="../../etc/passwd"),
    get("slicer-report-name-traversal", "/cube/..%2F..%2Fetc%2Fpasswd/report", 404),
]

# ---- the admin refresh: files outside the directory it may read ------------------------------------------
ADMIN_FILES = {
    "etc_passwd": "/etc/passwd",
    "relative_escape": "../../../../../../etc/passwd",
    "outside_fact_file": "{outside}",
    "link_to_outside": "{escape}",
    "dot_dot_to_facts": "../data/facts",
    "proc": "/proc/self/environ",
    "dev_zero": "/dev/zero",
    "dev_stdin": "/dev/stdin",
    "nul": "incoming/new.parquet\x00.csv",
    "url_http": "http://127.0.0.1:9/facts.parquet",
    "url_s3": "s3://bucket/facts.parquet",
    "glob": "/tmp/**/*.parquet",
    "glob_relative": "*.parquet",
    "windows": "C:\\Windows\\win.ini",
    "unc": "\\\\server\\share\\facts.parquet",
    "home": "~/facts.parquet",
    "dot": ".",
    "empty_name": " ",
    "unicode": "\u202e\u0000.parquet",
    "quote": "x'); COPY (SELECT 1) TO '/tmp/cube-server-pwned.csv' (FORMAT csv); --",
}
for name, file in ADMIN_FILES.items():
    REQUESTS.append(post_json(f"admin-append-{name}", "/v1/admin/refresh", {"mode": "append", "file": file},
                              admin=True))  # fmt: skip
REQUESTS += [
    post_json("admin-replace-outside", "/v1/admin/refresh",
              {"mode": "replace", "from": "2024-03-01", "to": "2024-03-01", "file": "{outside}"}, admin=True),
    post_json("admin-replace-range-sql", "/v1/admin/refresh",
              {"mode": "replace", "from": "2024-03-01' OR 1=1 --", "to": "2024-03-01", "file": "{inside}"},
              admin=True),  # fmt: skip
    post_json("admin-replace-range-huge", "/v1/admin/refresh",
              {"mode": "replace", "from": "99999-01-01", "to": "9" * 39, "file": "{inside}"}, admin=True),
    post_json("admin-mode-unknown", "/v1/admin/refresh", {"mode": "drop"}, admin=True),
    post_raw("admin-deep-body", "/v1/admin/refresh", b"[" * DEEP + b"]" * DEEP, admin=True),
    post_json("admin-reader-key", "/v1/admin/refresh", {"mode": "append", "file": "{outside}"}, 403),
]

# ---- hostile texts taken as data: answered, nothing found -------------------------------------------------
def escaped(text: str) -> str:
    """A member key in the cut grammar: its separators escaped, so the whole text is one key."""
    return "".join("\\" + char if char in "\\!|:;,-_" else char for char in text)


INERT: list[Hostile] = [
    *(get(f"v1-search-{name}", f"{V1}/members/geography", level="city", search=sql) for name, sql in SQL.items()),
    *(get(f"v1-cut-member-{name}", f"{V1}/facts", cut=f"product:{escaped(sql)}") for name, sql in SQL.items()),
    *(get(f"v1-cut-time-key-{name}", f"{V1}/aggregate", cut=f"time:{escaped(sql)}") for name, sql in SQL.items()),
    get("v1-cut-time-key-overflow", f"{V1}/aggregate", cut=f"time:{2**64}"),
    get("v1-cut-set-at-the-bound", f"{V1}/aggregate", cut="product:" + ";".join(f"x{i}" for i in range(1_000))),
    *(get(f"slicer-cut-member-{name}", f"{SLICER}/facts", cut=f"channel:{escaped(sql)}") for name, sql in SQL.items()),
]

# ---- model files -----------------------------------------------------------------------------------------
MINIMAL_DIMENSION = {"name": "d", "levels": [{"name": "l", "attributes": ["l"]}]}


def model(**overrides: object) -> bytes:
    base: dict[str, object] = {
        "name": "m",
        "dimensions": [MINIMAL_DIMENSION],
        "cubes": [{"name": "c", "fact": "facts", "dimensions": ["d"], "measures": [{"name": "x"}]}],
    }
    return json.dumps({**base, **overrides}).encode()


MODEL_FILES: dict[str, bytes] = {
    "deep_array": b"[" * DEEP + b"]" * DEEP,
    "deep_object": b'{"a":' * DEEP + b"1" + b"}" * DEEP,
    "deep_in_dimension": model(dimensions=[{"name": "d", "levels": json.loads("[" * 50 + "]" * 50)}]),
    "deep_cubes": b'{"name": "m", "cubes": ' + b"[" * DEEP + b"]" * DEEP + b"}",
    "too_large": b'{"name": "' + b"x" * (17 * 1024 * 1024) + b'"}',
    "not_json": b"dimensions: [time]",
    "invalid_utf8": b'{"name": "\xff\xfe"}',
    "nul_bytes": b"\x00" * 128,
    "empty": b"",
    "top_level_array": b"[]",
    "number_overflow": b'{"name": 1e999}',
    "nan": b'{"name": NaN}',
    "nul_in_names": model(name="m\x00", dimensions=[{**MINIMAL_DIMENSION, "name": "d\x00"}]),
    "sql_in_fact": model(cubes=[{"name": "c", "fact": "facts; DROP TABLE facts", "dimensions": ["d"]}]),
    "sql_in_expression": model(cubes=[{"name": "c", "fact": "facts", "dimensions": ["d"],
                                       "measures": [{"name": "x", "expression": "1); DROP TABLE facts; --"}]}]),
    "sql_in_column": model(cubes=[{"name": "c", "fact": "facts", "dimensions": ["d"],
                                   "mappings": {"d.l": "l\"; DROP TABLE facts; --"}}]),
    "traversal_in_fact": model(cubes=[{"name": "c", "fact": "../../../../etc/passwd", "dimensions": ["d"]}]),
    "huge_name": model(name="m" * 1_000_000),
    "many_dimensions": model(dimensions=[{"name": f"d{i}", "levels": "oops"} for i in range(2_000)]),
    "unicode_names": model(dimensions=[{"name": "\u202ed\u200b", "levels": [{"name": "\U0001f4a5"}]}]),
    "control_names": model(cubes=[{"name": "c\x1b[31m", "fact": "facts", "dimensions": ["d"]}]),
    "wrong_types": model(dimensions=[{"name": ["d"], "levels": {"l": 1}}]),
    "unknown_references": model(cubes=[{"name": "c", "fact": "facts", "dimensions": ["nope", "../d"]}]),
}
