#!/usr/bin/env python3
"""DuckDB reference run of `esmc build` (issue 3): builds one day's samples with
benches/duckdb/build.sql from the same Parquet logs and, with --compare, checks them
against esmc's partition.

    python build.py --root W --dt D --out FILE [--threads T] [--memory-limit 2GB]
        prints one line: `rows secs peak_rss_mib` (secs: the SQL script, connect to
        COPY done; peak RSS of this process, getrusage ru_maxrss)

    python build.py --root W --dt D --out FILE --compare ESMC_SAMPLES_DIR [--no-run]
        after the run (or, with --no-run, on an existing FILE) reads esmc's
        ESMC_SAMPLES_DIR/dt=D/*.parquet (or ESMC_SAMPLES_DIR/*.parquet when it is the
        partition itself) and reports, per label, how many samples differ, the psc_case
        confusion, the samples on one side only and the other columns that differ; exits
        1 on any difference.

Needs the `duckdb` Python package (pip install duckdb).
"""

import argparse
import datetime as dt
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
DAY_US = 86_400_000_000

LABELS = ["click", "dmi", "cart", "wish", "dma", "purchase", "cart_cal",
          "cart_global_cal", "psc_case", "bad_case"]
OTHER = ["exposure_id", "ts", "user_id", "item_id", "position", "session_id",
         "truth_p_click", "truth_p_cart", "truth_p_cvr", "age_bucket", "gender", "city",
         "purchase_power", "category_id", "shop_id", "brand_id", "price"]
CASES = ["no_purchase", "no_cart", "same_visit", "later_visit", "other_visit"]


def sql_text(args, temp_dir):
    day = dt.date.fromisoformat(args.dt)
    start = int(dt.datetime(day.year, day.month, day.day,
                            tzinfo=dt.timezone.utc).timestamp()) * 1_000_000
    params = {
        "root": str(Path(args.root).resolve()),
        "dt": day.isoformat(),
        "first_dt": (day - dt.timedelta(days=args.attribution_window_days)).isoformat(),
        "last_dt": (day + dt.timedelta(days=args.attribution_window_days)).isoformat(),
        "day_start_us": str(start),
        "day_end_us": str(start + DAY_US),
        "late_tolerance_us": str(args.late_tolerance_days * DAY_US),
        "session_gap_us": str(args.session_gap_secs * 1_000_000),
        "click_window_us": str(args.click_window_secs * 1_000_000),
        "attribution_window_us": str(args.attribution_window_days * DAY_US),
        "calibration": args.calibration,
        "out": str(Path(args.out).resolve()),
        "threads": str(args.threads or os.cpu_count() or 1),
        "memory_limit": args.memory_limit,
        "temp_dir": temp_dir,
    }
    text = (HERE / "build.sql").read_text()
    for k, v in params.items():
        if "'" in v:
            sys.exit(f"build.py: quote in {k}: {v}")
        text = text.replace("{" + k + "}", v)
    return text


def run(args):
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="esmc-duckdb-") as tmp:
        text = sql_text(args, tmp)
        started = time.perf_counter()
        con = duckdb.connect()
        con.execute(text)
        secs = time.perf_counter() - started
        con.close()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{Path(args.out).resolve()}')").fetchone()[0]
    print(f"{rows} {secs:.3f} {peak_mib:.0f}", flush=True)


def compare(args):
    esmc = Path(args.compare)
    part = esmc / f"dt={args.dt}"
    files = str((part if part.is_dir() else esmc) / "*.parquet")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW a AS SELECT * FROM read_parquet('{files}')")
    con.execute(f"CREATE VIEW b AS SELECT * FROM read_parquet('{Path(args.out).resolve()}')")
    na, nb = (con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in "ab")
    only_a, only_b = con.execute(
        "SELECT count(*) FILTER (WHERE b.sample_id IS NULL), "
        "count(*) FILTER (WHERE a.sample_id IS NULL) "
        "FROM a FULL JOIN b ON a.sample_id = b.sample_id").fetchone()
    dup_a, dup_b = (con.execute(f"SELECT count(*) - count(DISTINCT sample_id) FROM {t}").fetchone()[0]
                    for t in "ab")
    unsorted_b = con.execute(
        "SELECT count(*) FROM (SELECT sample_id < lag(sample_id) OVER () AS bad "
        "FROM b) WHERE bad").fetchone()[0]
    print(f"samples: esmc {na}, duckdb {nb}; only in esmc {only_a}, only in duckdb "
          f"{only_b}; duplicate sample_ids esmc {dup_a} duckdb {dup_b}; "
          f"duckdb rows out of order {unsorted_b}")
    diffs = {}
    for c in LABELS + OTHER:
        diffs[c] = con.execute(f"SELECT count(*) FROM a JOIN b USING (sample_id) "
                           f"WHERE a.{c} IS DISTINCT FROM b.{c}").fetchone()[0]
    ones = {c: con.execute(f"SELECT sum({c}) FROM a").fetchone()[0]
            for c in LABELS if c != "psc_case"}
    print("label differences (samples where the label differs; esmc positives):")
    for c in LABELS:
        pos = f"  ({ones[c]} positives)" if c in ones else ""
        print(f"  {c:16s} {diffs[c]}{pos}")
    other = {c: n for c, n in diffs.items() if c not in LABELS and n}
    print("other columns differing:", other if other else "none")
    conf = dict(((x, y), n) for x, y, n in con.execute(
        "SELECT a.psc_case, b.psc_case, count(*) FROM a JOIN b USING (sample_id) "
        "GROUP BY ALL").fetchall())
    print("psc_case confusion (rows esmc, columns duckdb):")
    print(" " * 13 + "".join(f"{c:>12s}" for c in CASES))
    for x in CASES:
        print(f"  {x:11s}" + "".join(f"{conf.get((x, y), 0):12d}" for y in CASES))
    bad = (na != nb or only_a or only_b or dup_a or dup_b or unsorted_b
           or any(diffs.values()))
    print("RESULT:", "DIFFERENT" if bad else "identical labels and columns")
    return 1 if bad else 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", required=True, help="warehouse root")
    p.add_argument("--dt", required=True, help="the day to build, YYYY-MM-DD")
    p.add_argument("--out", required=True, help="samples Parquet file to write")
    p.add_argument("--threads", type=int, default=0, help="DuckDB threads (0 = all cores)")
    p.add_argument("--memory-limit", default="2GB",
                   help="DuckDB memory_limit (default 2GB, esmc's default engine pool)")
    p.add_argument("--calibration", default="move", choices=["move", "copy", "off"])
    p.add_argument("--session-gap-secs", type=int, default=1800)
    p.add_argument("--click-window-secs", type=int, default=1800)
    p.add_argument("--attribution-window-days", type=int, default=3)
    p.add_argument("--late-tolerance-days", type=int, default=1)
    p.add_argument("--compare", metavar="ESMC_SAMPLES_DIR",
                   help="compare with esmc's samples of --dt (e.g. <root>/samples)")
    p.add_argument("--no-run", action="store_true",
                   help="with --compare: compare an existing --out, do not build")
    args = p.parse_args()
    if not args.no_run:
        run(args)
    if args.compare:
        sys.exit(compare(args))


if __name__ == "__main__":
    main()
