#!/usr/bin/env python3
"""Derives a stress world for the DuckDB feature check (features.sql against esmc) from
a simulated one: the edges the simulator rarely produces, in the same Parquet layout.

    python stress.py --src W --dst W2 [--grain-secs 60] [--drop-items 10]
                     [--copy-next 0.02]

  * every event time is truncated to --grain-secs: many events share an instant, so
    samples meet events at their own time (which must not count) and the stream's
    tie rules decide the order of clicks in the sequences;
  * items whose id is a multiple of --drop-items are left out of every item snapshot:
    their samples and events have a null category (they count for the item and the
    user, not for the category or user x category);
  * a share --copy-next of the click, cart and purchase rows of each day is copied,
    unchanged, into the next day's partition (a late copy within the late tolerance):
    the labels see one event (duplicates across partitions are one row), the features
    two (each partition counts what landed in it).

Writes W2/logs only; build it with `esmc build --root W2 ...`. Needs duckdb.
"""

import argparse
import datetime as dt
import shutil
from pathlib import Path

import duckdb

EVENTS = ["exposure", "click", "micro", "cart", "wish", "purchase"]
COPIED = ["click", "cart", "purchase"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--src", required=True, help="simulated warehouse root")
    p.add_argument("--dst", required=True, help="new warehouse root (must not exist)")
    p.add_argument("--grain-secs", type=int, default=60)
    p.add_argument("--drop-items", type=int, default=10)
    p.add_argument("--copy-next", type=float, default=0.02)
    args = p.parse_args()
    src, dst = Path(args.src) / "logs", Path(args.dst) / "logs"
    if dst.exists():
        raise SystemExit(f"stress.py: {dst} exists")
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    grain = args.grain_secs * 1_000_000
    for table in EVENTS + ["user", "item"]:
        for part in sorted((src / table).glob("dt=*")):
            out = dst / table / part.name
            out.mkdir(parents=True, exist_ok=True)
            for f in sorted(part.glob("*.parquet")):
                q = f"SELECT * FROM read_parquet('{f}', hive_partitioning = false)"
                if table in EVENTS:
                    q = (f"SELECT * REPLACE (make_timestamp(epoch_us(ts) // {grain} * {grain})"
                         f"::TIMESTAMPTZ AS ts) FROM ({q})")
                if table == "item":
                    q = f"SELECT * FROM ({q}) WHERE item_id % {args.drop_items} <> 0"
                con.execute(f"COPY ({q}) TO '{out / f.name}' (FORMAT parquet)")
            if table in COPIED:
                day = dt.date.fromisoformat(part.name[3:])
                nxt = dst / table / f"dt={day + dt.timedelta(days=1)}"
                if (src / table / nxt.name).is_dir():
                    nxt.mkdir(parents=True, exist_ok=True)
                    con.execute(
                        f"COPY (SELECT * REPLACE (make_timestamp(epoch_us(ts) // {grain} "
                        f"* {grain})::TIMESTAMPTZ AS ts) FROM read_parquet('{part}/*.parquet', "
                        f"hive_partitioning = false) USING SAMPLE {args.copy_next * 100}% "
                        f"(bernoulli, 7)) TO '{nxt / 'part-copied.parquet'}' (FORMAT parquet)")
    sim = src / "_simulation.json"
    if sim.exists():
        shutil.copy(sim, dst / "_simulation.json")


if __name__ == "__main__":
    main()
