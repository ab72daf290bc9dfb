-- Probability Space Confusion: how each day's samples and purchases split over psc cases.
-- Per day and psc case (docs/labels.md: no_purchase, no_cart, same_visit, later_visit,
-- other_visit): samples, their share of the day's samples, and their share of the day's
-- purchased samples (every case but no_purchase; later_visit + other_visit is the bad
-- case that breaks the chain rule).
--
-- @param from date = 0001-01-01  First day (dt), inclusive.
-- @param to date = 9999-12-31  Last day (dt), inclusive.
WITH per_case AS (
  SELECT dt, psc_case, count(*) AS samples
  FROM samples
  WHERE dt BETWEEN ${from} AND ${to}
  GROUP BY dt, psc_case
)
SELECT
  dt,
  psc_case,
  samples,
  round(samples / CAST(sum(samples) OVER (PARTITION BY dt) AS DOUBLE), 5) AS share_of_samples,
  CASE WHEN psc_case <> 'no_purchase' THEN round(
    samples / CAST(sum(CASE WHEN psc_case <> 'no_purchase' THEN samples END)
                   OVER (PARTITION BY dt) AS DOUBLE), 4)
  END AS share_of_purchases
FROM per_case
ORDER BY dt, CASE psc_case
  WHEN 'no_purchase' THEN 0 WHEN 'no_cart' THEN 1 WHEN 'same_visit' THEN 2
  WHEN 'later_visit' THEN 3 ELSE 4 END, psc_case
