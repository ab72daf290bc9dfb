-- Daily funnel of the raw logs: exposure → click → D-Mi → cart / wish → purchase.
-- Event rows per partition day (dt) and the rate of each step: CTR (clicks per
-- exposure); D-Mi actions (picture, qa, chat, comment, cart_button), carts, wishes and
-- purchases per click; purchases per exposure. Counts are rows of the logs as written,
-- every domain (duplicates and malformed rows included: `quarantine_summary` and the
-- samples show what the builder kept). Days without exposures are left out.
--
-- @param from date = 0001-01-01  First day (dt), inclusive.
-- @param to date = 9999-12-31  Last day (dt), inclusive.
-- @health
WITH
exposures AS (SELECT dt, count(*) AS n FROM exposure WHERE dt BETWEEN ${from} AND ${to} GROUP BY dt),
clicks AS (SELECT dt, count(*) AS n FROM click WHERE dt BETWEEN ${from} AND ${to} GROUP BY dt),
dmi AS (
  SELECT dt, count(*) AS n FROM micro
  WHERE dt BETWEEN ${from} AND ${to}
    AND action IN ('picture', 'qa', 'chat', 'comment', 'cart_button')
  GROUP BY dt
),
carts AS (SELECT dt, count(*) AS n FROM cart WHERE dt BETWEEN ${from} AND ${to} GROUP BY dt),
wishes AS (SELECT dt, count(*) AS n FROM wish WHERE dt BETWEEN ${from} AND ${to} GROUP BY dt),
purchases AS (SELECT dt, count(*) AS n FROM purchase WHERE dt BETWEEN ${from} AND ${to} GROUP BY dt)
SELECT
  e.dt,
  e.n AS exposures,
  coalesce(c.n, 0) AS clicks,
  coalesce(m.n, 0) AS dmi_actions,
  coalesce(ca.n, 0) AS carts,
  coalesce(w.n, 0) AS wishes,
  coalesce(p.n, 0) AS purchases,
  round(coalesce(c.n, 0) / CAST(e.n AS DOUBLE), 4) AS ctr,
  round(coalesce(m.n, 0) / CAST(nullif(c.n, 0) AS DOUBLE), 4) AS dmi_per_click,
  round(coalesce(ca.n, 0) / CAST(nullif(c.n, 0) AS DOUBLE), 4) AS cart_per_click,
  round(coalesce(w.n, 0) / CAST(nullif(c.n, 0) AS DOUBLE), 4) AS wish_per_click,
  round(coalesce(p.n, 0) / CAST(nullif(c.n, 0) AS DOUBLE), 4) AS purchase_per_click,
  round(coalesce(p.n, 0) / CAST(e.n AS DOUBLE), 5) AS purchase_per_exposure
FROM exposures e
LEFT JOIN clicks c ON c.dt = e.dt
LEFT JOIN dmi m ON m.dt = e.dt
LEFT JOIN carts ca ON ca.dt = e.dt
LEFT JOIN wishes w ON w.dt = e.dt
LEFT JOIN purchases p ON p.dt = e.dt
ORDER BY e.dt
