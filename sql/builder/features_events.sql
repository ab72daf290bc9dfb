-- The events the feature stage reads (pipeline/src/features/): every good,
-- deduplicated exposure, click, cart and purchase of the partitions D-H..D (H: the
-- longest feature window or the cart TTL), with the item's category from the item
-- snapshot of D and the partition's age in days (D = 0, D-1 = 1, ...).
-- The age is a CASE on dt that the builder writes in. Registered as `feat_events`.
-- kind: 0 exposure, 1 click, 3 cart, 5 purchase (the codes of events.sql)
SELECT e.kind,
       arrow_cast(e.ts, 'Int64') AS ts,
       CAST(e.user_id AS BIGINT) AS user_id,
       CAST(e.item_id AS BIGINT) AS item_id,
       CAST(i.category_id AS BIGINT) AS category_id,
       CAST({age} AS INT) AS age
FROM (
    SELECT CAST(0 AS INT) AS kind, ts, user_id, item_id, dt FROM feat_good_exposure
    UNION ALL
    SELECT CAST(1 AS INT), ts, user_id, item_id, dt FROM feat_good_click
    UNION ALL
    SELECT CAST(3 AS INT), ts, user_id, item_id, dt FROM feat_good_cart
    UNION ALL
    SELECT CAST(5 AS INT), ts, user_id, item_id, dt FROM feat_good_purchase
) e
LEFT JOIN dim_item i ON e.item_id = i.item_id
