-- Visits (sessions) per day: how many, how long, how many events each.
-- A visit is one user's run of events (every event table) with no gap longer than
-- `session_gap_secs` (the session gap rule of docs/labels.md; client session ids are not used here). A visit
-- counts on the day (dt) of its first event; visits are cut at the ends of the range.
-- Per day: users, visits, visits per user, events per visit (mean, median, max) and
-- visit length in minutes (mean, median, max).
--
-- @param from date = 0001-01-01  First day (dt), inclusive.
-- @param to date = 9999-12-31  Last day (dt), inclusive.
-- @param session_gap_secs int = 1800  Inactivity that ends a visit, seconds.
WITH
events AS (
  SELECT dt, user_id, ts FROM exposure WHERE dt BETWEEN ${from} AND ${to}
  UNION ALL SELECT dt, user_id, ts FROM click WHERE dt BETWEEN ${from} AND ${to}
  UNION ALL SELECT dt, user_id, ts FROM micro WHERE dt BETWEEN ${from} AND ${to}
  UNION ALL SELECT dt, user_id, ts FROM cart WHERE dt BETWEEN ${from} AND ${to}
  UNION ALL SELECT dt, user_id, ts FROM wish WHERE dt BETWEEN ${from} AND ${to}
  UNION ALL SELECT dt, user_id, ts FROM purchase WHERE dt BETWEEN ${from} AND ${to}
),
gaps AS (
  SELECT dt, user_id, arrow_cast(ts, 'Int64') AS us,
         arrow_cast(ts, 'Int64')
           - lag(arrow_cast(ts, 'Int64')) OVER (PARTITION BY user_id ORDER BY ts) AS gap_us
  FROM events
),
numbered AS (
  -- RANGE frame: events at one instant share their visit, whatever their order
  SELECT dt, user_id, us,
         sum(CASE WHEN gap_us IS NULL OR gap_us > ${session_gap_secs} * 1000000 THEN 1 ELSE 0 END)
           OVER (PARTITION BY user_id ORDER BY us
                 RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS visit
  FROM gaps
),
visits AS (
  SELECT user_id, visit, min(dt) AS dt, count(*) AS events,
         (max(us) - min(us)) / 60000000.0 AS minutes
  FROM numbered
  GROUP BY user_id, visit
)
SELECT
  dt,
  count(DISTINCT user_id) AS users,
  count(*) AS visits,
  round(count(*) / CAST(count(DISTINCT user_id) AS DOUBLE), 3) AS visits_per_user,
  round(avg(CAST(events AS DOUBLE)), 3) AS events_per_visit,
  median(events) AS median_events,
  max(events) AS max_events,
  round(avg(minutes), 3) AS avg_minutes,
  round(median(minutes), 3) AS median_minutes,
  round(max(minutes), 3) AS max_minutes
FROM visits
GROUP BY dt
ORDER BY dt
