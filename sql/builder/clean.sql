-- Cleaning of one raw table over the build window (run once per event table).
-- {table}: the table; {columns}: its contract columns; {first_dt}/{last_dt}: the window;
-- {reject_reason}: a CASE expression naming the first broken rule of a row, NULL when
-- the row is good (a CSV/NDJSON value that did not parse, named by `parse_error`; null
-- required column; event time outside its partition beyond the late tolerance; negative
-- amount). Rejected rows go to quarantine with that reason;
-- good rows are deduplicated: exact duplicate events (every column equal, the partition
-- aside) are dropped and counted.
SELECT {columns}, dt, {reject_reason} AS reject_reason
FROM log_{table}
WHERE dt BETWEEN '{first_dt}' AND '{last_dt}'
