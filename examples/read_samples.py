#!/usr/bin/env python3
"""Read esmc's sample partitions without esmc: pyarrow, Polars and DuckDB.

    python examples/read_samples.py W        # W = a warehouse root (esmc build --root W)

The samples are plain Parquet, one directory per day: W/samples/dt=YYYY-MM-DD/part-*.parquet
(hive-style partitioning; `dt` becomes a column). Files starting with `_` or `.` (the
manifest, a build's staging) are not data. Each reader below runs only if its package is
installed; each prints the samples and purchase rate per day.
"""

import sys

root = sys.argv[1] if len(sys.argv) > 1 else "."
pattern = f"{root}/samples/dt=*/part-*.parquet"

try:
    import pyarrow.dataset as ds

    data = ds.dataset(f"{root}/samples", format="parquet", partitioning="hive")
    table = data.to_table(columns=["dt", "purchase"])
    print(f"pyarrow: {table.num_rows} samples, columns: {len(data.schema.names)}")
    by_day = table.group_by("dt").aggregate([("purchase", "count"), ("purchase", "mean")])
    for row in by_day.sort_by("dt").to_pylist():
        print(f"  {row['dt']}  {row['purchase_count']:>9} samples  purchase rate {row['purchase_mean']:.4f}")
except ImportError:
    print("pyarrow: not installed, skipped")

try:
    import polars as pl

    lazy = pl.scan_parquet(pattern, hive_partitioning=True)
    print("polars:")
    print(
        lazy.group_by("dt")
        .agg(pl.len().alias("samples"), pl.col("purchase").cast(pl.Float64).mean().alias("purchase_rate"))
        .sort("dt")
        .collect()
    )
except ImportError:
    print("polars: not installed, skipped")

try:
    import duckdb

    print("duckdb:")
    print(
        duckdb.sql(
            f"""
            SELECT dt, count(*) AS samples, avg(purchase) AS purchase_rate
            FROM read_parquet('{pattern}', hive_partitioning = true)
            GROUP BY dt ORDER BY dt
            """
        )
    )
except ImportError:
    print("duckdb: not installed, skipped")
