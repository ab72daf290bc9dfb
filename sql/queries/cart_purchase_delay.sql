-- Cart-to-purchase delay, and the share of purchases made in a later visit than the cart.
-- Each purchase in the range is matched to the latest cart of the same user and item at
-- or before it, at most `max_days` earlier; one row per delay bucket (no cart: none
-- found) with purchases, share of all purchases, purchases in a later visit than their
-- cart and that share; the last row, `all carted`, gives the share of carted purchases
-- made in a later visit. Visits follow the gap rule of `session_stats` (events of every
-- table, gap > `session_gap_secs`); carts before `from` are not seen.
--
-- @param from date = 0001-01-01  First day (dt), inclusive.
-- @param to date = 9999-12-31  Last day (dt), inclusive.
-- @param max_days int = 3  Oldest cart matched to a purchase, days.
-- @param session_gap_secs int = 1800  Inactivity that ends a visit, seconds.
WITH
events AS (
  SELECT user_id, item_id, ts, 0 AS kind FROM exposure WHERE dt BETWEEN ${from} AND ${to}
  UNION ALL SELECT user_id, item_id, ts, 0 FROM click WHERE dt BETWEEN ${from} AND ${to}
  UNION ALL SELECT user_id, item_id, ts, 0 FROM micro WHERE dt BETWEEN ${from} AND ${to}
  UNION ALL SELECT user_id, item_id, ts, 1 FROM cart WHERE dt BETWEEN ${from} AND ${to}
  UNION ALL SELECT user_id, item_id, ts, 0 FROM wish WHERE dt BETWEEN ${from} AND ${to}
  UNION ALL SELECT user_id, item_id, ts, 2 FROM purchase WHERE dt BETWEEN ${from} AND ${to}
),
gaps AS (
  SELECT user_id, item_id, kind, arrow_cast(ts, 'Int64') AS us,
         arrow_cast(ts, 'Int64')
           - lag(arrow_cast(ts, 'Int64')) OVER (PARTITION BY user_id ORDER BY ts) AS gap_us
  FROM events
),
numbered AS (
  -- RANGE frame: events at one instant share their visit, whatever their order
  SELECT user_id, item_id, kind, us,
         sum(CASE WHEN gap_us IS NULL OR gap_us > ${session_gap_secs} * 1000000 THEN 1 ELSE 0 END)
           OVER (PARTITION BY user_id ORDER BY us
                 RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS visit
  FROM gaps
),
carts AS (SELECT user_id, item_id, us, visit FROM numbered WHERE kind = 1),
purchases AS (
  SELECT user_id, item_id, us, visit,
         row_number() OVER (ORDER BY user_id, item_id, us) AS pid
  FROM numbered WHERE kind = 2
),
matched AS (
  SELECT p.pid, p.us - c.us AS delay_us, c.visit < p.visit AS later_visit,
         row_number() OVER (PARTITION BY p.pid ORDER BY c.us DESC NULLS LAST) AS rn
  FROM purchases p
  LEFT JOIN carts c
    ON c.user_id = p.user_id AND c.item_id = p.item_id
   AND c.us <= p.us AND p.us - c.us <= ${max_days} * 86400000000
),
bucketed AS (
  SELECT
    CASE
      WHEN delay_us IS NULL THEN 7
      WHEN delay_us < 60000000 THEN 1
      WHEN delay_us < 600000000 THEN 2
      WHEN delay_us < 3600000000 THEN 3
      WHEN delay_us < 21600000000 THEN 4
      WHEN delay_us < 86400000000 THEN 5
      ELSE 6
    END AS ord,
    later_visit
  FROM matched
  WHERE rn = 1
),
rows AS (
  SELECT ord, count(*) AS purchases,
         sum(CAST(later_visit AS BIGINT)) AS in_later_visit
  FROM bucketed GROUP BY ord
  UNION ALL
  SELECT 8, count(*), sum(CAST(later_visit AS BIGINT))
  FROM bucketed WHERE ord < 7
)
SELECT
  CASE ord
    WHEN 1 THEN '< 1 min' WHEN 2 THEN '1-10 min' WHEN 3 THEN '10-60 min'
    WHEN 4 THEN '1-6 h' WHEN 5 THEN '6-24 h' WHEN 6 THEN '>= 1 d'
    WHEN 7 THEN 'no cart' ELSE 'all carted'
  END AS delay,
  purchases,
  round(purchases / CAST(sum(CASE WHEN ord < 8 THEN purchases END) OVER () AS DOUBLE), 4)
    AS share,
  in_later_visit,
  round(in_later_visit / CAST(nullif(purchases, 0) AS DOUBLE), 4) AS later_visit_share
FROM rows
ORDER BY ord
