-- The DuckDB reference for `esmc build` (issue 3): one day's sample partition from the
-- same Parquet logs, written as plain DuckDB SQL so that the benchmark compares esmc with
-- "the same work done by DuckDB". Run by benches/duckdb/build.py, which substitutes the
-- {placeholders} below (plain text replacement, so braces elsewhere are literal SQL):
--
--   {root}                  warehouse root; logs are <root>/logs/<table>/dt=YYYY-MM-DD/*.parquet
--   {dt}                    the built day D
--   {first_dt} / {last_dt}  the window read: D - attribution window .. D + attribution window
--   {day_start_us}          D's UTC midnight, microseconds; {day_end_us} = + 1 day
--   {late_tolerance_us}     late tolerance (default 1 day) in microseconds
--   {session_gap_us}        session gap (default 30 min)
--   {click_window_us}       click window (default 30 min)
--   {attribution_window_us} attribution window (default 3 days)
--   {calibration}           move (default) | copy | off
--   {out}                   the Parquet file written
--   {threads}, {memory_limit}, {temp_dir}   engine settings
--
-- Steps, and the part of the label contract (docs/labels.md) each implements:
--
--  1. good events (sql/builder/clean.sql, reject_reason in build.rs): each event
--     table is read over the partitions [D-3, D+3] with hive partitioning; a row is
--     dropped when a required column is null, when its event time is more than the late
--     tolerance before its partition's day or at/after the day's end, or (purchase) when
--     the amount is negative; exact duplicates (every contract column equal, `dt` aside)
--     are dropped with DISTINCT. IDs are cast to BIGINT (integers or digit strings, like
--     esmc), timestamps to microseconds since the epoch, UTC.
--  2. the event stream (sql/builder/events.sql): all six tables as one relation,
--     kind 0 exposure, 1 click, 2 micro, 3 cart, 4 wish, 5 purchase. One window sort per
--     user over (ts, kind, item_id, exposure_id, tag) gives every event its position
--     `seq` in esmc's stream order (so the tie rule "exposure, click, micro, cart, wish,
--     purchase" and every other tie-break is esmc's), the gap to the previous event and
--     the previous non-null client session id; a session starts where the gap exceeds
--     the session gap or the client session id changes. Sessions are identified by
--     (user, first event time), exactly what esmc hashes into session_id (README
--     "Session ids"; samples carry that same hash, and two sessions of a user starting
--     at the same microsecond are one session in both). The session of an event is the
--     latest start at or before it (ASOF JOIN on `seq`), computed only for the events
--     that need it (everything but exposures, and the day's samples).
--  3. clicks: by exposure_id when the click has one (the latest exposure with that
--     id of the same user before the click in the stream), otherwise the latest exposure
--     of the same (user, item) before it, kept when at most the click window older. Both
--     are ASOF JOINs on `seq`.
--  4. post-click events: micro, cart and wish go to the latest click (attributed or
--     not) of the same (user, item) before them, if that click is in the same session
--     (ASOF JOIN). dmi = a D-Mi action; cart_rec = a cart of the cart_cal domain.
--  5. purchases: the latest click of the same (user, item) whose exposure is a
--     rec exposure (ASOF JOIN), kept when at most the attribution window before the
--     purchase (last touch: exposures of the whole window count, README "Exposures are
--     read over the whole window"); the latest cart k of (user, item), any domain, before
--     the purchase and within the window (ASOF JOIN) decides psc_case: none -> no_cart;
--     k, click and purchase in one session -> same_visit; k in the click's session ->
--     later_visit; else other_visit. Several purchases on a sample: the largest case in
--     the order no_purchase < no_cart < same_visit < later_visit < other_visit.
--  6. calibration: an other_visit purchase sets cart_global_cal (and cart_cal when k
--     is a rec-domain cart) on its sample; `move` also clears them on the exposure that k
--     was attributed to, when that is another exposure; `off` does neither.
--     cart_cal = (own rec cart AND NOT cleared) OR set; likewise cart_global_cal with the
--     raw cart label. All of this is an aggregate per exposure, so the order in which
--     purchases are met does not matter (as in attribute.rs, where it does not either).
--  7. samples (sql/builder/samples.sql): every rec exposure with ts in [D, D+1),
--     joined with the user and item snapshots (the latest partition before D, else D's
--     own), as the temp table `samples`; output.sql writes them to {out} sorted by
--     sample_id (= exposure_id), or features.sql adds the behaviour features first.
--
-- Known differences from esmc (none of them met on the simulator's worlds):
--  * Parquet only: esmc also reads CSV/NDJSON logs. Nothing is quarantined or counted
--    here (rejected rows and duplicates are just left out): no manifest, no
--    max_reject_rate check, no maturity, no input-schema check, and the output is one
--    file (esmc writes a part file and a manifest into an atomically swapped directory).
--  * Every event table needs at least one Parquet file under logs/<table>/, and every
--    contract column must exist in at least one file of its table (union_by_name);
--    esmc fills a column missing everywhere with nulls.
--  * The config is the default one but for the substituted knobs: sample and cart_cal
--    domain `rec` and the default D-Mi set are written in the SQL.
--  * Labels are gathered per (user_id, exposure_id): should one user have two distinct
--    exposure rows (not exact duplicates) with the same exposure_id, both rows get the
--    labels of either, while esmc gives each attributed event to one row only.
SET TimeZone = 'UTC';
SET threads = {threads};
SET memory_limit = '{memory_limit}';
SET temp_directory = '{temp_dir}';
SET preserve_insertion_order = true;
SET default_null_order = 'NULLS_LAST';

-- esmc's session id: a splitmix64-style hash of (user, session start), 64-bit wrapping
-- arithmetic done in (U)HUGEINT and masked to the low 64 bits (attribute.rs, session_id()).
CREATE MACRO esmc_u64(x) AS (x::HUGEINT & 18446744073709551615::HUGEINT)::UBIGINT;
CREATE MACRO esmc_mulw(a, b) AS
    ((a::UHUGEINT * b::UHUGEINT) & 18446744073709551615::UHUGEINT)::UBIGINT;
CREATE MACRO esmc_mix(z, s, k) AS esmc_mulw(xor(z, z >> s::UBIGINT), k::UBIGINT);
CREATE MACRO esmc_fin(z) AS (xor(z, z >> 31::UBIGINT) >> 1::UBIGINT)::BIGINT;
CREATE MACRO esmc_session_id(u, s) AS esmc_fin(esmc_mix(esmc_mix(
    ((esmc_mulw(esmc_u64(u), 11400714819323198485::UBIGINT)::UHUGEINT
      + esmc_u64(s)::UHUGEINT) & 18446744073709551615::UHUGEINT)::UBIGINT,
    30, 13787848793156543929::UBIGINT), 27, 10723151780598845931::UBIGINT));

-- Row filter of step 1 on a partition day `dt` (DATE) and event time `t` (microseconds).
CREATE MACRO esmc_in_partition(t, dt) AS
    t >= (dt - DATE '1970-01-01') * 86400000000 - {late_tolerance_us}
    AND t < (dt - DATE '1970-01-01' + 1) * 86400000000;

-- Steps 1 and 2: the cleaned, deduplicated, sessionized event stream of the window.
CREATE TEMP TABLE events AS
WITH
raw_exposure AS (
    SELECT * FROM read_parquet('{root}/logs/exposure/dt=*/*.parquet', hive_partitioning = true,
        union_by_name = true, hive_types = {'dt': DATE})
    WHERE dt BETWEEN DATE '{first_dt}' AND DATE '{last_dt}'),
good_exposure AS (
    SELECT DISTINCT CAST(exposure_id AS BIGINT) AS exposure_id,
        epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts,
        CAST(user_id AS BIGINT) AS user_id, CAST(item_id AS BIGINT) AS item_id,
        CAST(domain AS VARCHAR) AS domain, CAST(position AS INTEGER) AS position,
        CAST(request_id AS BIGINT) AS request_id, CAST(session_id AS BIGINT) AS session_id,
        CAST(truth_p_click AS DOUBLE) AS truth_p_click,
        CAST(truth_p_cart AS DOUBLE) AS truth_p_cart,
        CAST(truth_p_cvr AS DOUBLE) AS truth_p_cvr
    FROM raw_exposure
    WHERE exposure_id IS NOT NULL AND ts IS NOT NULL AND user_id IS NOT NULL
      AND item_id IS NOT NULL AND domain IS NOT NULL
      AND esmc_in_partition(epoch_us(CAST(ts AS TIMESTAMPTZ)), dt)),
good_click AS (
    SELECT DISTINCT epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts,
        CAST(user_id AS BIGINT) AS user_id, CAST(item_id AS BIGINT) AS item_id,
        CAST(exposure_id AS BIGINT) AS exposure_id
    FROM read_parquet('{root}/logs/click/dt=*/*.parquet', hive_partitioning = true,
        union_by_name = true, hive_types = {'dt': DATE})
    WHERE dt BETWEEN DATE '{first_dt}' AND DATE '{last_dt}'
      AND ts IS NOT NULL AND user_id IS NOT NULL AND item_id IS NOT NULL
      AND esmc_in_partition(epoch_us(CAST(ts AS TIMESTAMPTZ)), dt)),
good_micro AS (
    SELECT DISTINCT epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts,
        CAST(user_id AS BIGINT) AS user_id, CAST(item_id AS BIGINT) AS item_id,
        CAST(action AS VARCHAR) AS action
    FROM read_parquet('{root}/logs/micro/dt=*/*.parquet', hive_partitioning = true,
        union_by_name = true, hive_types = {'dt': DATE})
    WHERE dt BETWEEN DATE '{first_dt}' AND DATE '{last_dt}'
      AND ts IS NOT NULL AND user_id IS NOT NULL AND item_id IS NOT NULL
      AND action IS NOT NULL
      AND esmc_in_partition(epoch_us(CAST(ts AS TIMESTAMPTZ)), dt)),
good_cart AS (
    SELECT DISTINCT epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts,
        CAST(user_id AS BIGINT) AS user_id, CAST(item_id AS BIGINT) AS item_id,
        CAST(domain AS VARCHAR) AS domain
    FROM read_parquet('{root}/logs/cart/dt=*/*.parquet', hive_partitioning = true,
        union_by_name = true, hive_types = {'dt': DATE})
    WHERE dt BETWEEN DATE '{first_dt}' AND DATE '{last_dt}'
      AND ts IS NOT NULL AND user_id IS NOT NULL AND item_id IS NOT NULL
      AND domain IS NOT NULL
      AND esmc_in_partition(epoch_us(CAST(ts AS TIMESTAMPTZ)), dt)),
good_wish AS (
    SELECT DISTINCT epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts,
        CAST(user_id AS BIGINT) AS user_id, CAST(item_id AS BIGINT) AS item_id,
        CAST(domain AS VARCHAR) AS domain
    FROM read_parquet('{root}/logs/wish/dt=*/*.parquet', hive_partitioning = true,
        union_by_name = true, hive_types = {'dt': DATE})
    WHERE dt BETWEEN DATE '{first_dt}' AND DATE '{last_dt}'
      AND ts IS NOT NULL AND user_id IS NOT NULL AND item_id IS NOT NULL
      AND domain IS NOT NULL
      AND esmc_in_partition(epoch_us(CAST(ts AS TIMESTAMPTZ)), dt)),
good_purchase AS (
    SELECT DISTINCT epoch_us(CAST(ts AS TIMESTAMPTZ)) AS ts,
        CAST(user_id AS BIGINT) AS user_id, CAST(item_id AS BIGINT) AS item_id,
        CAST(order_id AS BIGINT) AS order_id, CAST(amount AS DOUBLE) AS amount,
        CAST(quantity AS INTEGER) AS quantity
    FROM read_parquet('{root}/logs/purchase/dt=*/*.parquet', hive_partitioning = true,
        union_by_name = true, hive_types = {'dt': DATE})
    WHERE dt BETWEEN DATE '{first_dt}' AND DATE '{last_dt}'
      AND ts IS NOT NULL AND user_id IS NOT NULL AND item_id IS NOT NULL
      AND order_id IS NOT NULL AND NOT coalesce(amount < 0, false)
      AND esmc_in_partition(epoch_us(CAST(ts AS TIMESTAMPTZ)), dt)),
stream AS (
    SELECT user_id, ts, 0::TINYINT AS kind, item_id, exposure_id, domain AS tag,
           session_id AS client, position, truth_p_click, truth_p_cart, truth_p_cvr
    FROM good_exposure
    UNION ALL
    SELECT user_id, ts, 1::TINYINT, item_id, exposure_id, NULL::VARCHAR, NULL::BIGINT,
           NULL::INTEGER, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE
    FROM good_click
    UNION ALL
    SELECT user_id, ts, 2::TINYINT, item_id, NULL::BIGINT, action, NULL::BIGINT,
           NULL::INTEGER, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE
    FROM good_micro
    UNION ALL
    SELECT user_id, ts, 3::TINYINT, item_id, NULL::BIGINT, domain, NULL::BIGINT,
           NULL::INTEGER, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE
    FROM good_cart
    UNION ALL
    SELECT user_id, ts, 4::TINYINT, item_id, NULL::BIGINT, domain, NULL::BIGINT,
           NULL::INTEGER, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE
    FROM good_wish
    UNION ALL
    SELECT user_id, ts, 5::TINYINT, item_id, NULL::BIGINT, NULL::VARCHAR, NULL::BIGINT,
           NULL::INTEGER, NULL::DOUBLE, NULL::DOUBLE, NULL::DOUBLE
    FROM good_purchase),
ordered AS (
    SELECT *,
        row_number() OVER w AS seq,
        ts - lag(ts) OVER w AS gap,
        last_value(client IGNORE NULLS)
            OVER (w ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) AS prev_client
    FROM stream
    WINDOW w AS (PARTITION BY user_id
                 ORDER BY ts, kind, item_id, exposure_id NULLS LAST, tag NULLS LAST))
SELECT user_id, ts, kind, item_id, exposure_id, tag, position,
       truth_p_click, truth_p_cart, truth_p_cvr, seq,
       gap IS NULL OR gap > {session_gap_us} OR coalesce(client <> prev_client, false)
           AS new_session
FROM ordered;

-- The first event of every session; a session is identified by (user, its start time).
CREATE TEMP TABLE starts AS
SELECT user_id, seq, ts FROM events WHERE new_session;

-- Every event but exposures, with its session: the latest session start at or before it.
CREATE TEMP TABLE acts AS
SELECT e.kind, e.user_id, e.item_id, e.ts, e.seq, e.exposure_id, e.tag, s.ts AS sess
FROM (SELECT kind, user_id, item_id, ts, seq, exposure_id, tag FROM events
      WHERE kind > 0) e
ASOF JOIN starts s ON s.user_id = e.user_id AND e.seq >= s.seq;

-- Step 3: clicks with the exposure they attribute to. The ASOF right sides are cut to
-- the exposures that can match (same user and exposure_id / user and item as a click).
CREATE TEMP TABLE clk AS
WITH c AS (SELECT user_id, item_id, ts, seq, sess, exposure_id FROM acts WHERE kind = 1),
xe AS (SELECT user_id, exposure_id, ts, seq, tag = 'rec' AS rec FROM events
       WHERE kind = 0 AND (user_id, exposure_id) IN (SELECT user_id, exposure_id FROM c)),
xi AS (SELECT user_id, item_id, exposure_id, ts, seq, tag = 'rec' AS rec FROM events
       WHERE kind = 0 AND (user_id, item_id) IN
           (SELECT user_id, item_id FROM c WHERE exposure_id IS NULL))
SELECT c.user_id, c.item_id, c.ts, c.seq, c.sess,
       CASE WHEN c.exposure_id IS NOT NULL THEN xe.exposure_id
            WHEN c.ts - xi.ts <= {click_window_us} THEN xi.exposure_id END AS target,
       CASE WHEN c.exposure_id IS NOT NULL THEN xe.rec
            WHEN c.ts - xi.ts <= {click_window_us} THEN xi.rec END AS target_rec
FROM c
ASOF LEFT JOIN xe
    ON xe.user_id = c.user_id AND xe.exposure_id = c.exposure_id AND c.seq > xe.seq
ASOF LEFT JOIN xi
    ON xi.user_id = c.user_id AND xi.item_id = c.item_id AND c.seq > xi.seq;

-- Step 4: micro (2), cart (3), wish (4) with the exposure of the latest click of the same
-- (user, item) before them, when that click is in their session.
CREATE TEMP TABLE post AS
SELECT e.kind, e.tag, e.user_id, e.item_id, e.ts, e.seq, e.sess,
       CASE WHEN c.sess = e.sess THEN c.target END AS target
FROM (SELECT kind, tag, user_id, item_id, ts, seq, sess FROM acts
      WHERE kind IN (2, 3, 4)) e
ASOF LEFT JOIN clk c
    ON c.user_id = e.user_id AND c.item_id = e.item_id AND e.seq > c.seq;

-- Step 5: attributed purchases: sample x, psc case (1 no_cart, 2 same_visit,
-- 3 later_visit, 4 other_visit), and the cart k behind it (domain, exposure y).
CREATE TEMP TABLE pur AS
SELECT p.user_id, rc.target AS x,
       CASE WHEN k.seq IS NULL OR p.ts - k.ts > {attribution_window_us} THEN 1
            WHEN k.sess = rc.sess AND p.sess = rc.sess THEN 2
            WHEN k.sess = rc.sess THEN 3
            ELSE 4 END AS psc,
       k.tag = 'rec' AS k_rec,
       k.target AS y
FROM (SELECT user_id, item_id, ts, seq, sess FROM acts WHERE kind = 5) p
ASOF JOIN (SELECT user_id, item_id, ts, seq, sess, target FROM clk WHERE target_rec) rc
    ON rc.user_id = p.user_id AND rc.item_id = p.item_id AND p.seq > rc.seq
ASOF LEFT JOIN (SELECT user_id, item_id, ts, seq, sess, tag, target FROM post
                WHERE kind = 3) k
    ON k.user_id = p.user_id AND k.item_id = p.item_id AND p.seq > k.seq
WHERE p.ts - rc.ts <= {attribution_window_us};

-- Step 6: everything an exposure received, aggregated per (user, exposure).
CREATE TEMP TABLE lab AS
WITH contrib AS (
    SELECT user_id, target AS x, 1 AS click, 0 AS dmi, 0 AS cart, 0 AS cart_rec, 0 AS wish,
           0 AS purchase, 0 AS psc, 0 AS set_cal, 0 AS set_glob, 0 AS clr_cal, 0 AS clr_glob
    FROM clk WHERE target IS NOT NULL
    UNION ALL
    SELECT user_id, target, 0,
           (kind = 2 AND tag IN ('picture', 'qa', 'chat', 'comment', 'cart_button'))::INT,
           (kind = 3)::INT, (kind = 3 AND tag = 'rec')::INT, (kind = 4)::INT,
           0, 0, 0, 0, 0, 0
    FROM post WHERE target IS NOT NULL
    UNION ALL
    SELECT user_id, x, 0, 0, 0, 0, 0, 1, psc,
           (psc = 4 AND k_rec AND '{calibration}' <> 'off')::INT,
           (psc = 4 AND '{calibration}' <> 'off')::INT, 0, 0
    FROM pur
    UNION ALL
    SELECT user_id, y, 0, 0, 0, 0, 0, 0, 0, 0, 0, k_rec::INT, 1
    FROM pur
    WHERE psc = 4 AND '{calibration}' = 'move' AND y IS NOT NULL AND y <> x)
SELECT user_id, x, max(click) AS click, max(dmi) AS dmi, max(cart) AS cart,
       max(cart_rec) AS cart_rec, max(wish) AS wish, max(purchase) AS purchase,
       max(psc) AS psc, max(set_cal) AS set_cal, max(set_glob) AS set_glob,
       max(clr_cal) AS clr_cal, max(clr_glob) AS clr_glob
FROM contrib GROUP BY user_id, x;

-- Step 7: dimension snapshots (the latest partition before D, else D's own) and the
-- samples, kept as the temp table `samples` (build.py then runs output.sql, which writes
-- them sorted by sample_id, or features.sql, which adds the feature columns and writes).
SET VARIABLE user_dt = (
    SELECT coalesce(max(d) FILTER (WHERE d < DATE '{dt}'), max(d) FILTER (WHERE d = DATE '{dt}'))
    FROM (SELECT CAST(regexp_extract(file, 'dt=([0-9-]+)/', 1) AS DATE) AS d
          FROM glob('{root}/logs/user/dt=*/*.parquet')));
SET VARIABLE item_dt = (
    SELECT coalesce(max(d) FILTER (WHERE d < DATE '{dt}'), max(d) FILTER (WHERE d = DATE '{dt}'))
    FROM (SELECT CAST(regexp_extract(file, 'dt=([0-9-]+)/', 1) AS DATE) AS d
          FROM glob('{root}/logs/item/dt=*/*.parquet')));

CREATE TEMP TABLE samples AS
    WITH dim_user AS (
        SELECT CAST(user_id AS BIGINT) AS user_id, CAST(age_bucket AS INTEGER) AS age_bucket,
               CAST(gender AS INTEGER) AS gender, CAST(city AS INTEGER) AS city,
               CAST(purchase_power AS INTEGER) AS purchase_power
        FROM read_parquet('{root}/logs/user/dt=*/*.parquet', hive_partitioning = true,
            union_by_name = true, hive_types = {'dt': DATE})
        WHERE dt = getvariable('user_dt')),
    dim_item AS (
        SELECT CAST(item_id AS BIGINT) AS item_id, CAST(category_id AS BIGINT) AS category_id,
               CAST(shop_id AS BIGINT) AS shop_id, CAST(brand_id AS BIGINT) AS brand_id,
               CAST(price AS DOUBLE) AS price
        FROM read_parquet('{root}/logs/item/dt=*/*.parquet', hive_partitioning = true,
            union_by_name = true, hive_types = {'dt': DATE})
        WHERE dt = getvariable('item_dt')),
    labelled AS (
        SELECT e.exposure_id AS sample_id, e.exposure_id,
               make_timestamp(e.ts)::TIMESTAMPTZ AS ts, e.user_id, e.item_id, e.position,
               esmc_session_id(e.user_id, st.ts) AS session_id,
               coalesce(l.click, 0)::TINYINT AS click,
               coalesce(l.dmi, 0)::TINYINT AS dmi,
               coalesce(l.cart, 0)::TINYINT AS cart,
               coalesce(l.wish, 0)::TINYINT AS wish,
               greatest(coalesce(l.cart, 0), coalesce(l.wish, 0))::TINYINT AS dma,
               coalesce(l.purchase, 0)::TINYINT AS purchase,
               ((coalesce(l.cart_rec, 0) = 1 AND coalesce(l.clr_cal, 0) = 0)
                OR coalesce(l.set_cal, 0) = 1)::TINYINT AS cart_cal,
               ((coalesce(l.cart, 0) = 1 AND coalesce(l.clr_glob, 0) = 0)
                OR coalesce(l.set_glob, 0) = 1)::TINYINT AS cart_global_cal,
               CASE coalesce(l.psc, 0) WHEN 0 THEN 'no_purchase' WHEN 1 THEN 'no_cart'
                    WHEN 2 THEN 'same_visit' WHEN 3 THEN 'later_visit'
                    ELSE 'other_visit' END AS psc_case,
               (coalesce(l.psc, 0) >= 3)::TINYINT AS bad_case,
               e.truth_p_click, e.truth_p_cart, e.truth_p_cvr
        FROM (SELECT * FROM events WHERE kind = 0 AND tag = 'rec'
              AND ts >= {day_start_us} AND ts < {day_end_us}) e
        ASOF JOIN starts st ON st.user_id = e.user_id AND e.seq >= st.seq
        LEFT JOIN lab l ON l.user_id = e.user_id AND l.x = e.exposure_id)
    SELECT s.*,
           u.age_bucket, u.gender, u.city, u.purchase_power,
           i.category_id, i.shop_id, i.brand_id, i.price
    FROM labelled s
    LEFT JOIN dim_user u ON s.user_id = u.user_id
    LEFT JOIN dim_item i ON s.item_id = i.item_id;
