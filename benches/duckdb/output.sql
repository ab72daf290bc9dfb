-- The last step of benches/duckdb/build.sql without features: the samples it left in
-- the temp table `samples`, sorted by sample_id, written to {out}.
COPY (SELECT * FROM samples ORDER BY sample_id) TO '{out}' (FORMAT parquet, COMPRESSION zstd);
