-- Label rates of the built samples per day, with the day-over-day change.
-- Per day (dt): samples and the mean of every 0/1 label (click, dmi, cart, wish, dma,
-- purchase, cart_cal, cart_global_cal, bad_case); click_dod, cart_dod and purchase_dod
-- are the relative change against the previous built day in the range (null on the
-- first). `esmc stats` flags moves against the trailing week.
--
-- @param from date = 0001-01-01  First day (dt), inclusive.
-- @param to date = 9999-12-31  Last day (dt), inclusive.
-- @health
WITH daily AS (
  SELECT
    dt,
    count(*) AS samples,
    avg(CAST(click AS DOUBLE)) AS click,
    avg(CAST(dmi AS DOUBLE)) AS dmi,
    avg(CAST(cart AS DOUBLE)) AS cart,
    avg(CAST(wish AS DOUBLE)) AS wish,
    avg(CAST(dma AS DOUBLE)) AS dma,
    avg(CAST(purchase AS DOUBLE)) AS purchase,
    avg(CAST(cart_cal AS DOUBLE)) AS cart_cal,
    avg(CAST(cart_global_cal AS DOUBLE)) AS cart_global_cal,
    avg(CAST(bad_case AS DOUBLE)) AS bad_case
  FROM samples
  WHERE dt BETWEEN ${from} AND ${to}
  GROUP BY dt
)
SELECT
  dt,
  samples,
  round(click, 5) AS click,
  round(dmi, 5) AS dmi,
  round(cart, 5) AS cart,
  round(wish, 5) AS wish,
  round(dma, 5) AS dma,
  round(purchase, 5) AS purchase,
  round(cart_cal, 5) AS cart_cal,
  round(cart_global_cal, 5) AS cart_global_cal,
  round(bad_case, 5) AS bad_case,
  round(click / nullif(lag(click) OVER (ORDER BY dt), 0) - 1, 4) AS click_dod,
  round(cart / nullif(lag(cart) OVER (ORDER BY dt), 0) - 1, 4) AS cart_dod,
  round(purchase / nullif(lag(purchase) OVER (ORDER BY dt), 0) - 1, 4) AS purchase_dod
FROM daily
ORDER BY dt
