-- The event stream of one build: every good event of the window, as one table sorted by
-- user and time. The attribution pass (pipeline/src/attribute/) reads it in this order;
-- `kind` breaks ties at equal timestamps (an exposure before the click on it, a click
-- before what follows it), then item, exposure and tag, so the same input always gives
-- the same stream. Exact duplicate events (every column equal) are dropped by the pass
-- that reads the stream (pipeline/src/build/event_rows.rs): they share every sort key,
-- so they arrive in one run of equal keys, where the rest of their columns are compared.
-- That is one sort instead of a hash DISTINCT per table before it. Purchases, whose
-- order, amount and quantity the stream does not carry, are deduplicated before it.
-- kind: 0 exposure, 1 click, 2 micro, 3 cart, 4 wish, 5 purchase. Every branch names
-- every column; a union's batches still keep their branch's schema, which the cluster
-- build aligns before its shuffle (pipeline/src/partitioned/align.rs).
SELECT user_id, ts, CAST(0 AS TINYINT) AS kind, item_id, exposure_id, domain AS tag,
       session_id AS client_session, position, truth_p_click, truth_p_cart, truth_p_cvr,
       CAST(request_id AS BIGINT) AS request_id
FROM good_exposure
UNION ALL
SELECT user_id, ts, CAST(1 AS TINYINT) AS kind, item_id, exposure_id,
       CAST(NULL AS VARCHAR) AS tag, CAST(NULL AS BIGINT) AS client_session,
       CAST(NULL AS INT) AS position, CAST(NULL AS DOUBLE) AS truth_p_click,
       CAST(NULL AS DOUBLE) AS truth_p_cart, CAST(NULL AS DOUBLE) AS truth_p_cvr,
       CAST(NULL AS BIGINT) AS request_id
FROM good_click
UNION ALL
SELECT user_id, ts, CAST(2 AS TINYINT) AS kind, item_id,
       CAST(NULL AS BIGINT) AS exposure_id, action AS tag,
       CAST(NULL AS BIGINT) AS client_session, CAST(NULL AS INT) AS position,
       CAST(NULL AS DOUBLE) AS truth_p_click, CAST(NULL AS DOUBLE) AS truth_p_cart,
       CAST(NULL AS DOUBLE) AS truth_p_cvr,
       CAST(NULL AS BIGINT) AS request_id
FROM good_micro
UNION ALL
SELECT user_id, ts, CAST(3 AS TINYINT) AS kind, item_id,
       CAST(NULL AS BIGINT) AS exposure_id, domain AS tag,
       CAST(NULL AS BIGINT) AS client_session, CAST(NULL AS INT) AS position,
       CAST(NULL AS DOUBLE) AS truth_p_click, CAST(NULL AS DOUBLE) AS truth_p_cart,
       CAST(NULL AS DOUBLE) AS truth_p_cvr,
       CAST(NULL AS BIGINT) AS request_id
FROM good_cart
UNION ALL
SELECT user_id, ts, CAST(4 AS TINYINT) AS kind, item_id,
       CAST(NULL AS BIGINT) AS exposure_id, domain AS tag,
       CAST(NULL AS BIGINT) AS client_session, CAST(NULL AS INT) AS position,
       CAST(NULL AS DOUBLE) AS truth_p_click, CAST(NULL AS DOUBLE) AS truth_p_cart,
       CAST(NULL AS DOUBLE) AS truth_p_cvr,
       CAST(NULL AS BIGINT) AS request_id
FROM good_wish
UNION ALL
SELECT user_id, ts, CAST(5 AS TINYINT) AS kind, item_id,
       CAST(NULL AS BIGINT) AS exposure_id, CAST(NULL AS VARCHAR) AS tag,
       CAST(NULL AS BIGINT) AS client_session, CAST(NULL AS INT) AS position,
       CAST(NULL AS DOUBLE) AS truth_p_click, CAST(NULL AS DOUBLE) AS truth_p_cart,
       CAST(NULL AS DOUBLE) AS truth_p_cvr,
       CAST(NULL AS BIGINT) AS request_id
FROM good_purchase
ORDER BY user_id, ts, kind, item_id, exposure_id, tag
