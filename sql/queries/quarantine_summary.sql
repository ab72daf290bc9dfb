-- What the builder rejected: quarantined rows per day, table and reason.
-- Per day (dt), table and reject reason: the rows sent to quarantine and their share of
-- that table's rows of the day in the logs. Empty when nothing was rejected (or nothing
-- built yet).
--
-- @param from date = 0001-01-01  First day (dt), inclusive.
-- @param to date = 9999-12-31  Last day (dt), inclusive.
-- @health
WITH
rejected AS (
  SELECT dt, table_name, reject_reason, count(*) AS n
  FROM quarantine
  WHERE dt BETWEEN ${from} AND ${to}
  GROUP BY dt, table_name, reject_reason
),
logged AS (
  SELECT dt, 'exposure' AS table_name, count(*) AS n FROM exposure WHERE dt BETWEEN ${from} AND ${to} GROUP BY dt
  UNION ALL SELECT dt, 'click', count(*) FROM click WHERE dt BETWEEN ${from} AND ${to} GROUP BY dt
  UNION ALL SELECT dt, 'micro', count(*) FROM micro WHERE dt BETWEEN ${from} AND ${to} GROUP BY dt
  UNION ALL SELECT dt, 'cart', count(*) FROM cart WHERE dt BETWEEN ${from} AND ${to} GROUP BY dt
  UNION ALL SELECT dt, 'wish', count(*) FROM wish WHERE dt BETWEEN ${from} AND ${to} GROUP BY dt
  UNION ALL SELECT dt, 'purchase', count(*) FROM purchase WHERE dt BETWEEN ${from} AND ${to} GROUP BY dt
)
SELECT
  r.dt,
  r.table_name,
  r.reject_reason,
  r.n AS rows,
  round(r.n / CAST(l.n AS DOUBLE), 5) AS share_of_table_rows
FROM rejected r
LEFT JOIN logged l ON l.dt = r.dt AND l.table_name = r.table_name
ORDER BY r.dt, r.table_name, r.reject_reason
