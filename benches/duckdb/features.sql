-- The DuckDB reference for esmc's behaviour features (docs/labels.md, "Behaviour
-- features (leak-free)"; pipeline/src/features/): the same feature columns for the
-- samples that benches/duckdb/build.sql left in the temp table `samples`, written with
-- them to the output file. Run by build.py --features in the same connection, after build.sql
-- (it uses build.sql's macro esmc_in_partition and its variable item_dt). Placeholders,
-- each written in braces in the SQL below and substituted as plain text by build.py
-- (named here without the braces, which would be substituted in these comments too):
--
--   root, dt, late_tolerance_us, out   as in build.sql
--   feat_first_dt    D - H, H = max(longest window, cart TTL) days: the history read
--   longest          the longest window, days (the smoothing's shop rates use it)
--   smoothing        m, the pseudo-counts of the smoothed rates (a DOUBLE literal)
--   cart_ttl_us      the cart TTL in microseconds
--   seq_preceding    sequence length - 1
--   prior_counts     per window w and counter x of (exp 0, clk 1, cart 3, buy 5):
--                      sum((kind = k AND age <= w)::INT)::INTEGER AS x_wd
--   count_columns    per entity e of (item, cat, user, uc), window w and counter x:
--                      (coalesce(p_e.x_wd, 0) + coalesce(d_e.x, 0))::INTEGER AS e_x_wd
--   feature_columns  the feature columns in esmc's order (FeatureConfig::columns), from
--                      the counts, the smoothed rates, recency and sequences
--
-- Steps, and the part of esmc each implements:
--
--  F1. feature events (sql/builder/features_events.sql, build/feature_stage.rs): the
--      good rows of exposure, click, cart and purchase over the partitions D-H..D, with
--      the cleaning rules of build.sql's step 1, deduplicated with DISTINCT over every
--      contract column AND the partition (a row repeated in two partitions counts
--      twice, unlike the labels' dedupe), each with the item's category from the item
--      snapshot of the samples (LEFT JOIN: a null category counts for the item and the
--      user, not for the category or user x category) and its partition's age
--      D - dt. Exposures of every domain count, not just rec.
--  F2. prior counts (sql/builder/features_prior.sql): the events of age >= 1 counted
--      per item, category, user and (user, category) in one GROUPING SETS pass; the
--      window w holds ages 1..w. The shop's rates for the smoothing are the item
--      grouping set's totals over the longest window: p = clk / exp (0.05 without
--      exposures), q = buy / clk (0.1 without clicks) (features/prior.rs).
--  F3. D's own events (age 0, late rows that landed in D included) as running counts
--      per entity key and timestamp (a second GROUPING SETS pass, by key and ts, then a
--      cumulative sum); a sample at t takes the row of the latest ts < t (ASOF JOIN
--      with a strict inequality): events at t itself and later never count
--      (features/windows.rs).
--  F4. (user, item) recency over the clicks, carts and purchases of every age: the
--      latest of each strictly before t (three ASOF JOINs). item_in_cart = a cart within
--      the TTL (t - cart <= TTL) and no purchase after it (a purchase at the cart's
--      instant also takes it out); secs_since_* = ((t - ts) as DOUBLE / 1e6) as FLOAT,
--      null without one (features/recency.rs).
--  F5. click sequences: per user, the clicks of every age in the order (ts, item,
--      category with nulls first); every click carries the list of the last N clicks up
--      to it (a ROWS window); the last click of each (user, ts) is kept, and a sample
--      takes that of the latest ts < t (ASOF JOIN), or empty lists. Categories are the
--      snapshot's, null inside the list when the item is not in it (features/sequences.rs).
--  F6. the columns: counts = prior + D's, INT32; CTR = (clk + m p) / (exp + m), CVR =
--      (buy + m q) / (clk + m), both in DOUBLE then rounded to FLOAT, p itself when
--      trials + m = 0 (features/windows.rs, smoothed()); uc_affinity = uc clicks / user
--      clicks in FLOAT, 0 without user clicks (features/compute.rs).
--
-- Known differences from esmc: those of build.sql (Parquet only, every column present
-- in some file of its table); esmc's counts saturate at 2^31 - 1, these would fail the
-- INTEGER cast instead. Nothing else is known to differ; build.py --compare checks every
-- feature column.

-- F1: the item snapshot's categories and the feature events.
CREATE TEMP TABLE feat_item AS
SELECT CAST(item_id AS BIGINT) AS item_id, CAST(category_id AS BIGINT) AS category_id
FROM read_parquet('{root}/logs/item/dt=*/*.parquet', hive_partitioning = true,
    union_by_name = true, hive_types = {'dt': DATE})
WHERE dt = getvariable('item_dt');

CREATE TEMP TABLE feat_events AS
WITH
fx AS (
    SELECT DISTINCT CAST(exposure_id AS BIGINT) AS exposure_id,
        epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts,
        CAST(user_id AS BIGINT) AS user_id, CAST(item_id AS BIGINT) AS item_id,
        CAST(domain AS VARCHAR) AS domain, CAST(position AS INTEGER) AS position,
        CAST(request_id AS BIGINT) AS request_id, CAST(session_id AS BIGINT) AS session_id,
        CAST(truth_p_click AS DOUBLE) AS truth_p_click,
        CAST(truth_p_cart AS DOUBLE) AS truth_p_cart,
        CAST(truth_p_cvr AS DOUBLE) AS truth_p_cvr, dt
    FROM read_parquet('{root}/logs/exposure/dt=*/*.parquet', hive_partitioning = true,
        union_by_name = true, hive_types = {'dt': DATE})
    WHERE dt BETWEEN DATE '{feat_first_dt}' AND DATE '{dt}'
      AND exposure_id IS NOT NULL AND ts IS NOT NULL AND user_id IS NOT NULL
      AND item_id IS NOT NULL AND domain IS NOT NULL
      AND esmc_in_partition(epoch_us(CAST(ts AS TIMESTAMPTZ)), dt)),
fc AS (
    SELECT DISTINCT epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts,
        CAST(user_id AS BIGINT) AS user_id, CAST(item_id AS BIGINT) AS item_id,
        CAST(exposure_id AS BIGINT) AS exposure_id, dt
    FROM read_parquet('{root}/logs/click/dt=*/*.parquet', hive_partitioning = true,
        union_by_name = true, hive_types = {'dt': DATE})
    WHERE dt BETWEEN DATE '{feat_first_dt}' AND DATE '{dt}'
      AND ts IS NOT NULL AND user_id IS NOT NULL AND item_id IS NOT NULL
      AND esmc_in_partition(epoch_us(CAST(ts AS TIMESTAMPTZ)), dt)),
fk AS (
    SELECT DISTINCT epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts,
        CAST(user_id AS BIGINT) AS user_id, CAST(item_id AS BIGINT) AS item_id,
        CAST(domain AS VARCHAR) AS domain, dt
    FROM read_parquet('{root}/logs/cart/dt=*/*.parquet', hive_partitioning = true,
        union_by_name = true, hive_types = {'dt': DATE})
    WHERE dt BETWEEN DATE '{feat_first_dt}' AND DATE '{dt}'
      AND ts IS NOT NULL AND user_id IS NOT NULL AND item_id IS NOT NULL
      AND domain IS NOT NULL
      AND esmc_in_partition(epoch_us(CAST(ts AS TIMESTAMPTZ)), dt)),
fp AS (
    SELECT DISTINCT epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts,
        CAST(user_id AS BIGINT) AS user_id, CAST(item_id AS BIGINT) AS item_id,
        CAST(order_id AS BIGINT) AS order_id, CAST(amount AS DOUBLE) AS amount,
        CAST(quantity AS INTEGER) AS quantity, dt
    FROM read_parquet('{root}/logs/purchase/dt=*/*.parquet', hive_partitioning = true,
        union_by_name = true, hive_types = {'dt': DATE})
    WHERE dt BETWEEN DATE '{feat_first_dt}' AND DATE '{dt}'
      AND ts IS NOT NULL AND user_id IS NOT NULL AND item_id IS NOT NULL
      AND order_id IS NOT NULL AND NOT coalesce(amount < 0, false)
      AND esmc_in_partition(epoch_us(CAST(ts AS TIMESTAMPTZ)), dt))
SELECT e.kind, e.ts, e.user_id, e.item_id, i.category_id,
       (DATE '{dt}' - e.dt)::INTEGER AS age
FROM (SELECT 0::TINYINT AS kind, ts, user_id, item_id, dt FROM fx
      UNION ALL SELECT 1::TINYINT, ts, user_id, item_id, dt FROM fc
      UNION ALL SELECT 3::TINYINT, ts, user_id, item_id, dt FROM fk
      UNION ALL SELECT 5::TINYINT, ts, user_id, item_id, dt FROM fp) e
LEFT JOIN feat_item i ON e.item_id = i.item_id;

-- Entity codes of both GROUPING SETS passes, from grouping(item_id, category_id,
-- user_id) (a bit set per column NOT grouped on): 3 item, 5 category, 6 user,
-- 4 user x category. k1 is the key (the user for user x category), k2 the category of
-- user x category and 0 otherwise.
CREATE MACRO feat_k1(g, i, c, u) AS CASE g WHEN 3 THEN i WHEN 5 THEN c ELSE u END;
CREATE MACRO feat_k2(g, c) AS CASE g WHEN 4 THEN c ELSE 0 END;

-- F2: counts over the days before D, and the shop's rates.
CREATE TEMP TABLE prior AS
SELECT * FROM (
    SELECT grouping(item_id, category_id, user_id) AS g,
           feat_k1(grouping(item_id, category_id, user_id), item_id, category_id, user_id)
               AS k1,
           feat_k2(grouping(item_id, category_id, user_id), category_id) AS k2,
           {prior_counts}
    FROM feat_events
    WHERE age >= 1
    GROUP BY GROUPING SETS ((item_id), (category_id), (user_id), (user_id, category_id)))
WHERE k1 IS NOT NULL AND k2 IS NOT NULL;

SET VARIABLE feat_p_ctr = (
    SELECT CASE WHEN coalesce(sum(exp_{longest}d), 0) > 0
                THEN sum(clk_{longest}d)::DOUBLE / sum(exp_{longest}d)::DOUBLE
                ELSE 0.05::DOUBLE END
    FROM prior WHERE g = 3);
SET VARIABLE feat_p_cvr = (
    SELECT CASE WHEN coalesce(sum(clk_{longest}d), 0) > 0
                THEN sum(buy_{longest}d)::DOUBLE / sum(clk_{longest}d)::DOUBLE
                ELSE 0.1::DOUBLE END
    FROM prior WHERE g = 3);

-- F3: D's own events as running counts per entity key at each of its timestamps.
CREATE TEMP TABLE today AS
WITH per_ts AS (
    SELECT * FROM (
        SELECT grouping(item_id, category_id, user_id) AS g,
               feat_k1(grouping(item_id, category_id, user_id), item_id, category_id,
                       user_id) AS k1,
               feat_k2(grouping(item_id, category_id, user_id), category_id) AS k2,
               ts,
               count(*) FILTER (WHERE kind = 0) AS exp,
               count(*) FILTER (WHERE kind = 1) AS clk,
               count(*) FILTER (WHERE kind = 3) AS cart,
               count(*) FILTER (WHERE kind = 5) AS buy
        FROM feat_events
        WHERE age = 0
        GROUP BY GROUPING SETS ((item_id, ts), (category_id, ts), (user_id, ts),
                                (user_id, category_id, ts)))
    WHERE k1 IS NOT NULL AND k2 IS NOT NULL)
SELECT g, k1, k2, ts,
       sum(exp) OVER w AS exp, sum(clk) OVER w AS clk,
       sum(cart) OVER w AS cart, sum(buy) OVER w AS buy
FROM per_ts
WINDOW w AS (PARTITION BY g, k1, k2 ORDER BY ts ROWS UNBOUNDED PRECEDING);

-- The samples' keys; category_id is the item snapshot's, as on the samples.
CREATE TEMP TABLE targets AS
SELECT sample_id, epoch_us(ts) AS t, user_id, item_id, category_id FROM samples;

-- F2 + F3 per sample: every entity's counts per window.
CREATE TEMP TABLE feat_counts AS
SELECT s.sample_id,
       {count_columns}
FROM targets s
ASOF LEFT JOIN (SELECT * FROM today WHERE g = 3) d_item
    ON d_item.k1 = s.item_id AND s.t > d_item.ts
ASOF LEFT JOIN (SELECT * FROM today WHERE g = 5) d_cat
    ON d_cat.k1 = s.category_id AND s.t > d_cat.ts
ASOF LEFT JOIN (SELECT * FROM today WHERE g = 6) d_user
    ON d_user.k1 = s.user_id AND s.t > d_user.ts
ASOF LEFT JOIN (SELECT * FROM today WHERE g = 4) d_uc
    ON d_uc.k1 = s.user_id AND d_uc.k2 = s.category_id AND s.t > d_uc.ts
LEFT JOIN (SELECT * FROM prior WHERE g = 3) p_item ON p_item.k1 = s.item_id
LEFT JOIN (SELECT * FROM prior WHERE g = 5) p_cat ON p_cat.k1 = s.category_id
LEFT JOIN (SELECT * FROM prior WHERE g = 6) p_user ON p_user.k1 = s.user_id
LEFT JOIN (SELECT * FROM prior WHERE g = 4) p_uc
    ON p_uc.k1 = s.user_id AND p_uc.k2 = s.category_id;

-- F4: (user, item) recency.
CREATE TEMP TABLE feat_recency AS
SELECT s.sample_id,
       (k.ts IS NOT NULL AND s.t - k.ts <= {cart_ttl_us}
        AND (b.ts IS NULL OR b.ts < k.ts))::TINYINT AS item_in_cart,
       ((s.t - c.ts)::DOUBLE / 1e6::DOUBLE)::FLOAT AS secs_since_click,
       ((s.t - k.ts)::DOUBLE / 1e6::DOUBLE)::FLOAT AS secs_since_cart
FROM targets s
ASOF LEFT JOIN (SELECT user_id, item_id, ts FROM feat_events WHERE kind = 1) c
    ON c.user_id = s.user_id AND c.item_id = s.item_id AND s.t > c.ts
ASOF LEFT JOIN (SELECT user_id, item_id, ts FROM feat_events WHERE kind = 3) k
    ON k.user_id = s.user_id AND k.item_id = s.item_id AND s.t > k.ts
ASOF LEFT JOIN (SELECT user_id, item_id, ts FROM feat_events WHERE kind = 5) b
    ON b.user_id = s.user_id AND b.item_id = s.item_id AND s.t > b.ts;

-- F5: the click sequences. row_number and the lists share one window order, so the
-- row numbered last at a timestamp is the one whose frame holds all of its ties.
CREATE TEMP TABLE feat_seq AS
WITH c AS (
    SELECT user_id, ts, row_number() OVER w AS rn,
           list(item_id ORDER BY ts, item_id, category_id NULLS FIRST)
               OVER (w ROWS BETWEEN {seq_preceding} PRECEDING AND CURRENT ROW) AS items,
           list(category_id ORDER BY ts, item_id, category_id NULLS FIRST)
               OVER (w ROWS BETWEEN {seq_preceding} PRECEDING AND CURRENT ROW) AS cats
    FROM feat_events
    WHERE kind = 1
    WINDOW w AS (PARTITION BY user_id ORDER BY ts, item_id, category_id NULLS FIRST))
SELECT user_id, ts, items, cats FROM c
QUALIFY rn = max(rn) OVER (PARTITION BY user_id, ts);

-- F6: the samples with their features, sorted by sample_id.
COPY (
    SELECT s.*,
           {feature_columns}
    FROM samples s
    JOIN feat_counts n USING (sample_id)
    JOIN feat_recency r USING (sample_id)
    JOIN (SELECT t.sample_id, q.items, q.cats FROM targets t
          ASOF LEFT JOIN feat_seq q ON q.user_id = t.user_id AND t.t > q.ts) q
        USING (sample_id)
    ORDER BY s.sample_id
) TO '{out}' (FORMAT parquet, COMPRESSION zstd);
