"""Load, refresh-under-load and soak test: an asyncio httpx driver against a running cube-server.

    # load: a bounded number of requests at a fixed concurrency, a realistic mix of questions
    python benchmarks/load_test.py --url http://127.0.0.1:8000 --requests 50000 --concurrency 64

    # refresh under load: the same, while one day of new facts after another is appended with
    # ``cube-server refresh PROJECT --append FILE``; every answer of the check queries must equal the
    # oracle of the store version (or fact-file fingerprint) it names in meta.version
    # (DAY_SOURCE: cube-server generate --rows 10000000 --seed 7 --out /tmp/day-source-10m)
    python benchmarks/load_test.py --url ... --minutes 15 --concurrency 64 \
        --refresh-project PROJECT --day-source /tmp/day-source-10m --refresh-pause 20

    # soak: RSS, open files and threads of the server process sampled from /proc while either runs
    python benchmarks/load_test.py --url ... --requests 50000 --concurrency 64 --server-pid PID

The mix (weights in ``question``): aggregates and drilldowns at several grains, the drilldown and rollup
operations, pivots, members pages, fact pages (drill-through), Slicer aggregates and the check queries.
Member values (years, months, days, provinces) are drawn with a seeded generator from what the data holds.

Reported: throughput, latency p50/p95/p99/max overall and per question, answers by status, errors (any
answer not 2xx, and transport errors), and with --refresh-project the versions seen and every answer that
did not equal its version's oracle. The refresh CHANGES THE PROJECT'S FACTS: run it on a disposable copy of
the data (``cp -al`` makes a hard-linked copy; a refresh never writes into an existing file).

The oracle never goes through the server: DuckDB over the project's fact and customer Parquet files, with
the model's join semantics (a charge whose customer is not in the customer table is in segment ``unknown``).
"""

from __future__ import annotations

import argparse
import asyncio
import calendar
import json
import os
import random
import signal
import statistics
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from refresh_benchmark import make_append_file  # noqa: E402

from aggregates.store import CuboidStore  # noqa: E402
from cube_server.project import load_project  # noqa: E402

CUBE = "fixed_line_revenue"
V1 = f"/v1/cubes/{CUBE}"
YEARS = (2024, 2025)
PROVINCES = tuple(
    f"domestic,asia,cn,{path}"
    for path in ("south_china,gd", "east_china,zj", "east_china,js", "east_china,sd", "southwest_china,sc",
                 "central_china,hb", "north_china,bj", "east_china,sh")
)  # fmt: skip
FIRST_APPEND_DAY = "2025-07-02"

CHECK_KEYS = {"check_years": "time.year", "check_segments_2025": "customer.segment"}  # each cell's key
# The check queries: their answers are compared with the oracle of the version each answer names.
CHECKS: dict[str, dict[str, str]] = {
    "check_years": {"drilldown": "time:year", "measures": "revenue,record_count"},
    "check_segments_2025": {"cut": "time:2025", "drilldown": "customer:segment", "measures": "revenue,record_count"},
    # read from the facts (drill-through): its count changes with every appended day of July 2025
    "check_facts_july": {"cut": "time:2025,3,7", "limit": "1"},
}


@dataclass
class Outcome:
    question: str
    status: int  # 0: transport error
    seconds: float
    version: str | None = None
    answer: Any = None
    error: str = ""


@dataclass
class Run:
    outcomes: list[Outcome] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    refreshes: list[dict[str, Any]] = field(default_factory=list)
    expected: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> check -> oracle answer
    started: float = 0.0
    ended: float = 0.0
    connection_retries: int = 0


# ---- the question mix ---------------------------------------------------------------------------
def question(rng: random.Random) -> tuple[str, str, dict[str, str]]:
    """(name, path, params) of one request, drawn by weight."""
    year = rng.choice(YEARS)
    month = rng.randint(1, 12)
    month_path = f"{year},{(month - 1) // 3 + 1},{month}"  # year, quarter, month
    day = rng.randint(1, 28)
    province = rng.choice(PROVINCES)
    choices: list[tuple[int, str, str, dict[str, str]]] = [
        # answered from cuboids: what dashboards and the explorer ask most
        (10, "aggregate_total", f"{V1}/aggregate", {"cut": f"time:{year}", "measures": "revenue,record_count"}),
        (10, "drilldown_months", f"{V1}/aggregate",
         {"cut": f"time:{year}", "drilldown": "time:month", "measures": "revenue,call_minutes"}),
        (8, "drilldown_province_cities", f"{V1}/aggregate",
         {"cut": f"geography:{province}|time:{month_path}", "drilldown": "geography:city",
          "measures": "revenue,call_minutes,record_count"}),
        (8, "drilldown_segment_branch", f"{V1}/aggregate",
         {"cut": f"time:{year}", "drilldown": "customer:segment|organisation:city_branch", "measures": "subscribers"}),
        (8, "drilldown_days_by_line", f"{V1}/aggregate",
         {"cut": f"time:{month_path}", "drilldown": "time:day|product:line", "measures": "revenue"}),
        (6, "drilldown_ranked", f"{V1}/aggregate",
         {"cut": f"time:{year}", "drilldown": "geography:province", "measures": "revenue", "order": "revenue:desc",
          "limit": "5"}),
        (6, "drilldown_operation", f"{V1}/drilldown",
         {"cut": f"time:{year}", "dimension": "time", "measures": "revenue,record_count"}),
        (4, "rollup_operation", f"{V1}/rollup",
         {"drilldown": "time:month", "dimension": "time", "measures": "revenue"}),
        (8, "pivot_line_by_year", f"{V1}/pivot",
         {"rows": "product:line", "columns": "time:year", "measures": "revenue,record_count"}),
        (6, "pivot_segment_by_channel", f"{V1}/pivot",
         {"cut": f"time:{year}", "rows": "customer:segment", "columns": "channel:channel", "measures": "revenue"}),
        (7, "slicer_aggregate", f"/cube/{CUBE}/aggregate",
         {"cut": f"time:{year}", "drilldown": "product:line", "aggregates": "revenue|record_count"}),
        (8, "check_years", f"{V1}/aggregate", CHECKS["check_years"]),
        (7, "check_segments_2025", f"{V1}/aggregate", CHECKS["check_segments_2025"]),
        # read from the facts (members present in the facts, drill-through pages): rarer, and far costlier
        (1, "members_cities", f"{V1}/members/geography", {"level": "city", "limit": "50"}),
        (1, "members_branches_page", f"{V1}/members/organisation",
         {"level": "city_branch", "limit": "20", "offset": str(rng.randint(0, 100))}),
        (1, "facts_page", f"{V1}/facts", {"cut": f"time:{month_path},{day}|geography:{province}", "limit": "50"}),
        (1, "check_facts_july", f"{V1}/facts", CHECKS["check_facts_july"]),
    ]  # fmt: skip
    weights = [weight for weight, *_ in choices]
    _, name, path, params = rng.choices(choices, weights)[0]
    return name, path, params


def check_answer(name: str, body: dict[str, Any]) -> Any:
    """A check query's cells as comparable text (the level's key, exact revenue, count), or a fact page's count."""
    if "total_count" in body:
        return body["total_count"]
    key = CHECK_KEYS[name]
    return sorted(
        [str(cell[key]), str(Decimal(str(cell["revenue"]))), str(cell["record_count"])] for cell in body["cells"]
    )


# ---- the oracle ---------------------------------------------------------------------------------
def oracle(data: Path) -> dict[str, Any]:
    """The check queries' answers from the raw Parquet files (never through the server)."""
    db = duckdb.connect()
    facts = f"read_parquet('{data}/facts/*.parquet')"
    years = db.execute(f"SELECT year(charged_at), sum(revenue), count(*) FROM {facts} GROUP BY 1 ORDER BY 1").fetchall()
    segments = db.execute(
        f"""SELECT CASE WHEN c.customer_code IS NULL THEN 'unknown' ELSE c.segment END AS segment,
                   sum(f.revenue), count(*)
            FROM {facts} f LEFT JOIN read_parquet('{data}/customer.parquet') c USING (customer_code)
            WHERE year(f.charged_at) = 2025 GROUP BY 1"""
    ).fetchall()
    july = db.execute(f"SELECT count(*) FROM {facts} WHERE year(charged_at) = 2025 AND month(charged_at) = 7")
    july_count = july.fetchone()[0]  # type: ignore[index]
    db.close()
    return {
        "check_facts_july": int(july_count),
        "check_years": sorted([str(y), str(revenue), str(count)] for y, revenue, count in years),
        "check_segments_2025": sorted([str(s), str(revenue), str(count)] for s, revenue, count in segments),
    }


def record_expected(run: Run, project_dir: Path) -> str:
    """The oracle of the facts as they are now, under the store version and the facts' fingerprint."""
    project = load_project(project_dir)
    expected = oracle(project.data_root)
    version = CuboidStore(project.store_dir).current_version() or ""
    run.expected[version] = expected
    run.expected[project.version()] = expected  # answers from the facts name the files' fingerprint
    return version


# ---- driving ------------------------------------------------------------------------------------
async def worker(
    client: httpx.AsyncClient,
    run: Run,
    rng: random.Random,
    budget: list[int],
    deadline: float | None,
    log_errors: int,
    halt: asyncio.Event,
) -> None:
    while not halt.is_set():
        if deadline is not None:
            if time.monotonic() >= deadline:
                return
        else:
            if budget[0] <= 0:
                return
            budget[0] -= 1
        name, path, params = question(rng)
        started = time.perf_counter()
        try:
            try:
                response = await client.get(path, params=params)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # The server closed a kept-alive connection as this request went out on it (uvicorn closes
                # connections idle for 5 s): a GET is sent again once on a new one, as browsers do. Counted.
                run.connection_retries += 1
                response = await client.get(path, params=params)
            seconds = time.perf_counter() - started
            outcome = Outcome(name, response.status_code, seconds)
            if response.status_code >= 400:
                outcome.error = response.text[:300]
            elif name in CHECKS:
                body = json.loads(response.text, parse_float=Decimal)
                outcome.version = body["meta"]["version"]
                outcome.answer = check_answer(name, body)
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            outcome = Outcome(name, 0, time.perf_counter() - started, error=f"{type(exc).__name__}: {exc}")
        run.outcomes.append(outcome)
        if outcome.error and sum(1 for o in run.outcomes if o.error) <= log_errors:
            print(f"error: {name} {params} -> {outcome.status}: {outcome.error}", file=sys.stderr, flush=True)


async def sampler(pid: int, run: Run, every_s: float, stop: asyncio.Event) -> None:
    while not stop.is_set():
        run.samples.append({"t": round(time.monotonic() - run.started, 1), **process_sample(pid)})
        try:
            await asyncio.wait_for(stop.wait(), every_s)
        except TimeoutError:
            pass
    run.samples.append({"t": round(time.monotonic() - run.started, 1), **process_sample(pid)})


def process_sample(pid: int) -> dict[str, Any]:
    status = Path(f"/proc/{pid}/status").read_text()
    rss_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:"))
    threads = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("Threads:"))
    return {"rss_mb": round(rss_kb / 1024, 1), "open_files": len(os.listdir(f"/proc/{pid}/fd")), "threads": threads}


async def refresher(args: argparse.Namespace, run: Run, stop: asyncio.Event) -> None:
    """Append one day of new facts after another until the load ends, recording each version's oracle."""
    project_dir = Path(args.refresh_project)
    data = load_project(project_dir).data_root
    workdir = Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    day = time.strptime(args.first_day, "%Y-%m-%d")
    index = 0
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), args.refresh_pause)
            return
        except TimeoutError:
            pass
        this_day = time.strftime("%Y-%m-%d", time.gmtime(calendar.timegm(day) + 86400 * index))
        index += 1
        if this_day.endswith("-01"):  # the monthly fees fall on the 1st: ten times an ordinary day
            this_day = time.strftime("%Y-%m-%d", time.gmtime(calendar.timegm(day) + 86400 * index))
            index += 1
        file = workdir / f"append-{this_day}.parquet"
        connection = duckdb.connect()
        rows, _ = await asyncio.to_thread(make_append_file, connection, Path(args.day_source), data, this_day, file)
        connection.close()
        command = [sys.executable, "-m", "api.cli", "refresh", str(project_dir), "--append", str(file)]
        started = time.monotonic()
        process = await asyncio.create_subprocess_exec(
            *command, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
        )
        out, err = await process.communicate()
        elapsed = time.monotonic() - started
        version = await asyncio.to_thread(record_expected, run, project_dir)
        run.refreshes.append(
            {"day": this_day, "rows": rows, "returncode": process.returncode, "seconds": round(elapsed, 2),
             "version": version, "at_s": round(started - run.started, 1),
             "stderr": err.decode(errors="replace")[-500:] if process.returncode else ""}
        )  # fmt: skip
        print(f"refresh {index}: {this_day} +{rows} rows -> {version} in {elapsed:.1f} s (rc {process.returncode})",
              file=sys.stderr, flush=True)  # fmt: skip


async def drive(args: argparse.Namespace) -> Run:
    run = Run()
    headers = {"X-API-Key": args.api_key} if args.api_key else {}
    limits = httpx.Limits(max_connections=args.concurrency, max_keepalive_connections=args.concurrency)
    timeout = httpx.Timeout(args.timeout)
    if args.refresh_project:
        record_expected(run, Path(args.refresh_project))
    stop = asyncio.Event()
    halt = asyncio.Event()  # SIGINT or SIGTERM: stop sending, and report what was answered
    for signum in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(signum, halt.set)
    async with httpx.AsyncClient(base_url=args.url, headers=headers, limits=limits, timeout=timeout) as client:
        run.started = time.monotonic()
        side = []
        if args.server_pid:
            side.append(asyncio.create_task(sampler(args.server_pid, run, args.sample_every, stop)))
        if args.refresh_project:
            side.append(asyncio.create_task(refresher(args, run, stop)))
        budget = [args.requests]
        deadline = run.started + args.minutes * 60 if args.minutes else None
        progress = asyncio.create_task(report_progress(run, args))
        await asyncio.gather(
            *(
                worker(client, run, random.Random(args.seed * 1000 + n), budget, deadline, args.log_errors, halt)
                for n in range(args.concurrency)
            )
        )
        run.ended = time.monotonic()
        stop.set()
        progress.cancel()
        await asyncio.gather(*side)
    return run


async def report_progress(run: Run, args: argparse.Namespace) -> None:
    while True:
        await asyncio.sleep(args.progress_every)
        done = len(run.outcomes)
        errors = sum(1 for o in run.outcomes if o.error)
        rate = done / max(time.monotonic() - run.started, 1e-9)
        sample = f", server {run.samples[-1]}" if run.samples else ""
        print(f"{done} requests, {errors} errors, {rate:.0f}/s{sample}", file=sys.stderr, flush=True)


# ---- the report ---------------------------------------------------------------------------------
def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def consistency(run: Run) -> dict[str, Any]:
    """Every check answer against the oracle of the version it names."""
    by_version: Counter[str] = Counter()
    mismatches = []
    unknown = Counter()
    for outcome in run.outcomes:
        if outcome.question not in CHECKS or outcome.status != 200:
            continue
        by_version[outcome.version or ""] += 1
        expected = run.expected.get(outcome.version or "")
        if expected is None:
            unknown[outcome.version or ""] += 1
        elif expected[outcome.question] != outcome.answer:
            # Which versions' oracles the answer equals tells a torn read (another version's facts) from a wrong one.
            mismatches.append(
                {
                    "question": outcome.question,
                    "version": outcome.version,
                    "answer": outcome.answer,
                    "expected": expected[outcome.question],
                    "equals_versions": [
                        v for v, checks in run.expected.items() if checks[outcome.question] == outcome.answer
                    ],
                }
            )
    return {
        "checked_answers": sum(by_version.values()),
        "answers_by_version": dict(by_version),
        "versions_without_oracle": dict(unknown),
        "mismatches": len(mismatches),
        "first_mismatches": mismatches[:10],
    }


def summarize(run: Run, args: argparse.Namespace) -> dict[str, Any]:
    seconds = [o.seconds for o in run.outcomes]
    wall = run.ended - run.started
    per_question: dict[str, list[float]] = defaultdict(list)
    for outcome in run.outcomes:
        per_question[outcome.question].append(outcome.seconds)
    errors = [o for o in run.outcomes if o.status == 0 or o.status >= 400]
    summary: dict[str, Any] = {
        "url": args.url,
        "concurrency": args.concurrency,
        "requests": len(run.outcomes),
        "wall_s": round(wall, 1),
        "throughput_per_s": round(len(run.outcomes) / wall, 1) if wall else 0,
        "latency_ms": latency(seconds),
        "status": dict(sorted(Counter(str(o.status) for o in run.outcomes).items())),
        "errors": len(errors),
        "connection_retries": run.connection_retries,
        "errors_by_question_and_status": dict(Counter(f"{o.question} {o.status}" for o in errors)),
        "first_errors": [{"question": o.question, "status": o.status, "error": o.error} for o in errors[:5]],
        "per_question": {
            name: {"requests": len(values), **latency(values)} for name, values in sorted(per_question.items())
        },
    }
    if run.refreshes:
        summary["refreshes"] = run.refreshes
        summary["consistency"] = consistency(run)
    if run.samples:
        summary["server_samples"] = run.samples
        summary["server_trend"] = trend(run.samples)
    return summary


def latency(seconds: list[float]) -> dict[str, float]:
    if not seconds:
        return {}
    return {
        "p50": round(percentile(seconds, 0.50) * 1000, 1),
        "p95": round(percentile(seconds, 0.95) * 1000, 1),
        "p99": round(percentile(seconds, 0.99) * 1000, 1),
        "max": round(max(seconds) * 1000, 1),
        "mean": round(statistics.fmean(seconds) * 1000, 1),
    }


def trend(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """First, peak and last RSS and open files, and the last third's mean against the middle third's."""
    third = max(1, len(samples) // 3)
    result = {}
    for key in ("rss_mb", "open_files", "threads"):
        values = [s[key] for s in samples]
        middle = statistics.fmean(values[third : 2 * third] or values)
        last = statistics.fmean(values[-third:])
        result[key] = {"first": values[0], "max": max(values), "last": values[-1],
                       "middle_third_mean": round(middle, 1), "last_third_mean": round(last, 1)}  # fmt: skip
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--minutes", type=float, default=0, help="run for this long instead of --requests")
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--api-key", default=os.environ.get("CUBE_API_KEY", ""))
    parser.add_argument("--seed", type=int, default=20251124)
    parser.add_argument("--timeout", type=float, default=120, help="seconds per request")
    parser.add_argument("--server-pid", type=int, default=0, help="sample this process's RSS and open files")
    parser.add_argument("--sample-every", type=float, default=10)
    parser.add_argument("--refresh-project", default="", help="append a day of facts to this project repeatedly")
    parser.add_argument(
        "--day-source", default="/tmp/day-source-10m", help="a generated dataset (another seed) to take the days from"
    )
    parser.add_argument("--first-day", default=FIRST_APPEND_DAY, help="the first day appended (then the next ones)")
    parser.add_argument("--refresh-pause", type=float, default=5, help="seconds between one refresh and the next")
    parser.add_argument("--workdir", default="/tmp/load-test-appends")
    parser.add_argument("--progress-every", type=float, default=15)
    parser.add_argument("--log-errors", type=int, default=20, help="print the first N errors as they happen")
    parser.add_argument("--out", type=Path, help="write the summary as JSON here")
    args = parser.parse_args(argv)
    run = asyncio.run(drive(args))
    summary = summarize(run, args)
    text = json.dumps(summary, indent=2, default=str)
    if args.out:
        args.out.write_text(text)
    shown = {k: v for k, v in summary.items() if k not in ("server_samples", "per_question")}
    print(json.dumps(shown, indent=2, default=str))
    failed = summary["errors"] or summary.get("consistency", {}).get("mismatches")
    failed = failed or any(r["returncode"] for r in run.refreshes)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
