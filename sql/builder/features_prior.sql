-- Counts over the days before D for the trailing-window features, one pass over the
-- history: per item, category, user and (user, category). grouping(x) is 0 when x is a
-- key of the row's grouping set. The builder writes in, for each window w and counter,
--   SUM(CASE WHEN kind = <k> AND age <= w THEN 1 ELSE 0 END) AS <exp|clk|cart|buy>_<w>d
-- Events of D itself (age 0) are counted by the as-of merges of features/, strictly
-- before each exposure's time. Sorted by grouping set and key: the stage splits the rows
-- into one file per grouping set, each in key order, for its merges.
SELECT CAST(grouping(item_id) AS INT) AS g_item,
       CAST(grouping(category_id) AS INT) AS g_cat,
       CAST(grouping(user_id) AS INT) AS g_user,
       item_id, category_id, user_id,
       {counts}
FROM feat_events
WHERE age >= 1
GROUP BY GROUPING SETS ((item_id), (category_id), (user_id), (user_id, category_id))
ORDER BY g_item, g_cat, g_user, user_id, category_id, item_id
