#!/usr/bin/env python3
"""DuckDB reference run of `esmc build` (issue 3): builds one day's samples with
benches/duckdb/build.sql from the same Parquet logs and, with --compare, checks them
against esmc's partition. With --features, benches/duckdb/features.sql adds esmc's
behaviour feature columns (issue 20) and --compare checks those too.

    python build.py --root W --dt D --out FILE [--threads T] [--memory-limit 2GB]
        prints one line: `rows secs peak_rss_mib` (secs: the SQL scripts, connect to
        COPY done; peak RSS of this process, getrusage ru_maxrss)

    python build.py --root W --dt D --out FILE --features [--windows-days 1,7,30]
            [--smoothing 20] [--cart-ttl-days 3] [--sequence-len 50]
        the same with the feature columns; prints
        `rows secs peak_rss_mib labels_secs features_secs labels_peak_rss_mib`
        (labels: build.sql; features: features.sql with the COPY; the peak after the
        labels alone)

    python build.py --root W --dt D --out FILE --compare ESMC_SAMPLES_DIR [--no-run]
        after the run (or, with --no-run, on an existing FILE) reads esmc's
        ESMC_SAMPLES_DIR/dt=D/*.parquet (or ESMC_SAMPLES_DIR/*.parquet when it is the
        partition itself) and reports, per label, how many samples differ, the psc_case
        confusion, the samples on one side only and the other columns that differ; with
        --features also per feature column (exact for counts, flags and lists; floats
        both bit for bit and within a relative 1e-6); exits 1 on any difference.

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


def sql_text(args, temp_dir, name="build.sql"):
    """The text of benches/duckdb/<name> with its placeholders substituted."""
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
    for k, v in params.items():
        if "'" in v:
            sys.exit(f"build.py: quote in {k}: {v}")
    if args.features:  # generated SQL, quotes and all
        params.update(feature_params(args, day))
    text = (HERE / name).read_text()
    for k, v in params.items():
        text = text.replace("{" + k + "}", v)
    return text


def windows(args):
    return [int(w) for w in args.windows_days.split(",")]


def feature_names(args):
    """esmc's feature columns in its order (FeatureConfig::columns)."""
    names = []
    for e in ["item", "cat", "user"]:
        for w in windows(args):
            names += [f"{e}_{x}_{w}d" for x in ["exp", "clk", "cart", "buy", "ctr", "cvr"]]
    for w in windows(args):
        names += [f"uc_clk_{w}d", f"uc_buy_{w}d", f"uc_affinity_{w}d"]
    return names + ["item_in_cart", "secs_since_click", "secs_since_cart",
                    "seq_click_items", "seq_click_cats"]


FLOATS = ("_ctr_", "_cvr_", "_affinity_", "secs_since_")
COUNTERS = [("exp", 0), ("clk", 1), ("cart", 3), ("buy", 5)]


def feature_params(args, day):
    """The generated parts of features.sql (see its header)."""
    ws = windows(args)
    if not ws or len(set(ws)) != len(ws) or min(ws) < 1 or args.sequence_len < 1:
        sys.exit("build.py: bad feature config")
    history = max(max(ws), args.cart_ttl_days)
    m = f"{float(args.smoothing)!r}::DOUBLE"
    prior = [f"sum((kind = {k} AND age <= {w})::INT)::INTEGER AS {x}_{w}d"
             for w in ws for x, k in COUNTERS]
    counts = [f"(coalesce(p_{e}.{x}_{w}d, 0) + coalesce(d_{e}.{x}, 0))::INTEGER AS {e}_{x}_{w}d"
              for e in ["item", "cat", "user", "uc"] for w in ws for x, _ in COUNTERS]

    def smoothed(hits, trials, p):
        p = f"getvariable('{p}')"
        return (f"(CASE WHEN {trials}::DOUBLE + {m} > 0 THEN ({hits}::DOUBLE + {m} * {p}) "
                f"/ ({trials}::DOUBLE + {m}) ELSE {p} END)::FLOAT")
    cols = []
    for e in ["item", "cat", "user"]:
        for w in ws:
            cols += [f"n.{e}_{x}_{w}d" for x, _ in COUNTERS]
            cols.append(smoothed(f"n.{e}_clk_{w}d", f"n.{e}_exp_{w}d", "feat_p_ctr")
                        + f" AS {e}_ctr_{w}d")
            cols.append(smoothed(f"n.{e}_buy_{w}d", f"n.{e}_clk_{w}d", "feat_p_cvr")
                        + f" AS {e}_cvr_{w}d")
    for w in ws:
        cols += [f"n.uc_clk_{w}d AS uc_clk_{w}d", f"n.uc_buy_{w}d AS uc_buy_{w}d",
                 f"(CASE WHEN n.user_clk_{w}d > 0 THEN n.uc_clk_{w}d::FLOAT / "
                 f"n.user_clk_{w}d::FLOAT ELSE 0::FLOAT END) AS uc_affinity_{w}d"]
    cols += ["r.item_in_cart", "r.secs_since_click", "r.secs_since_cart",
             "coalesce(q.items, []::BIGINT[]) AS seq_click_items",
             "coalesce(q.cats, []::BIGINT[]) AS seq_click_cats"]
    return {
        "feat_first_dt": (day - dt.timedelta(days=history)).isoformat(),
        "longest": str(max(ws)),
        "smoothing": m,
        "cart_ttl_us": str(args.cart_ttl_days * DAY_US),
        "seq_preceding": str(args.sequence_len - 1),
        "prior_counts": ",\n           ".join(prior),
        "count_columns": ",\n       ".join(counts),
        "feature_columns": ",\n           ".join(cols),
    }


def run(args):
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="esmc-duckdb-") as tmp:
        labels = sql_text(args, tmp)
        rest = sql_text(args, tmp, "features.sql" if args.features else "output.sql")
        started = time.perf_counter()
        con = duckdb.connect()
        con.execute(labels)
        labels_secs = time.perf_counter() - started
        labels_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        con.execute(rest)
        secs = time.perf_counter() - started
        con.close()
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rows = duckdb.connect().execute(
        f"SELECT count(*) FROM read_parquet('{Path(args.out).resolve()}')").fetchone()[0]
    if args.features:
        print(f"{rows} {secs:.3f} {peak_mib:.0f} {labels_secs:.3f} "
              f"{secs - labels_secs:.3f} {labels_peak:.0f}", flush=True)
    else:
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
    if args.features:
        bad = compare_features(con, feature_names(args)) or bad
    print("RESULT:", "DIFFERENT" if bad else "identical labels and columns")
    return 1 if bad else 0


def compare_features(con, names):
    """Per feature column: samples that differ (floats: bit for bit, and beyond a relative
    1e-6), and esmc's samples with a non-zero, non-null or non-empty value; True when
    any differs."""
    for t, who in [("a", "esmc's partition"), ("b", "the DuckDB file")]:
        have = {r[0] for r in con.execute(f"DESCRIBE {t}").fetchall()}
        missing = [c for c in names if c not in have]
        if missing:
            print(f"feature columns missing in {who}: {missing}")
            return True
    types = [{r[0]: r[1] for r in con.execute(f"DESCRIBE {t}").fetchall()} for t in "ab"]
    typed = {c: (types[0][c], types[1][c]) for c in names if types[0][c] != types[1][c]}
    print("feature column types differing (esmc, duckdb):", typed if typed else "none")
    print("feature differences (samples that differ; floats also beyond a relative 1e-6; "
          "esmc samples with a non-zero / non-null / non-empty value):")
    bad = bool(typed)
    for c in names:
        exact = con.execute(f"SELECT count(*) FROM a JOIN b USING (sample_id) "
                            f"WHERE a.{c} IS DISTINCT FROM b.{c}").fetchone()[0]
        if c.startswith("seq_"):
            nz = f"len({c}) > 0"
        elif c.startswith("secs_"):
            nz = f"{c} IS NOT NULL"
        else:
            nz = f"{c} <> 0"
        some = con.execute(f"SELECT count(*) FILTER (WHERE {nz}) FROM a").fetchone()[0]
        line = f"  {c:18s} {exact:8d}"
        if any(f in c for f in FLOATS):
            tol = con.execute(
                f"SELECT count(*) FROM a JOIN b USING (sample_id) WHERE "
                f"(a.{c} IS NULL) <> (b.{c} IS NULL) OR abs(a.{c}::DOUBLE - b.{c}::DOUBLE) "
                f"> 1e-6 * greatest(1, abs(a.{c}::DOUBLE))").fetchone()[0]
            line += f"  (beyond 1e-6: {tol})"
        print(f"{line}  [{some} set]")
        bad = bad or exact > 0
    return bad


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
    p.add_argument("--features", action="store_true",
                   help="add esmc's behaviour feature columns (features.sql)")
    p.add_argument("--windows-days", default="1,7,30",
                   help="feature windows, days, comma-separated (esmc's default 1,7,30)")
    p.add_argument("--smoothing", type=float, default=20.0)
    p.add_argument("--cart-ttl-days", type=int, default=3)
    p.add_argument("--sequence-len", type=int, default=50)
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
