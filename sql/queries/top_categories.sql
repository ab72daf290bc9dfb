-- Categories that convert best: post-click conversion (CVR) per item category.
-- Over the built samples (rec exposures, the item's category as the builder joined it):
-- exposures, clicks, purchases after a click, CTR and CVR = purchases / clicks, for
-- categories with at least `min_clicks` clicks; best CVR first (ties: more clicks,
-- then category id).
--
-- @param from date = 0001-01-01  First day (dt), inclusive.
-- @param to date = 9999-12-31  Last day (dt), inclusive.
-- @param min_clicks int = 20  Leave out categories with fewer clicks.
-- @param top int = 20  How many categories.
WITH per_category AS (
  SELECT
    category_id,
    count(*) AS exposures,
    sum(CAST(click AS BIGINT)) AS clicks,
    sum(CASE WHEN click = 1 THEN CAST(purchase AS BIGINT) ELSE 0 END) AS purchases
  FROM samples
  WHERE dt BETWEEN ${from} AND ${to}
  GROUP BY category_id
)
SELECT
  category_id,
  exposures,
  clicks,
  purchases,
  round(clicks / CAST(exposures AS DOUBLE), 4) AS ctr,
  round(purchases / CAST(clicks AS DOUBLE), 4) AS cvr
FROM per_category
WHERE clicks >= ${min_clicks} AND clicks > 0
ORDER BY cvr DESC, clicks DESC, category_id
LIMIT ${top}
