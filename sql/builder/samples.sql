-- The sample partition: the labelled rec exposures of the day joined with the user and
-- item dimension snapshots (the latest snapshot before the day, or the day's own when
-- none is older), sorted by sample_id so that a rebuild gives byte-identical files.
SELECT s.*,
       u.age_bucket, u.gender, u.city, u.purchase_power,
       i.category_id, i.shop_id, i.brand_id, i.price
FROM labelled s
LEFT JOIN dim_user u ON s.user_id = u.user_id
LEFT JOIN dim_item i ON s.item_id = i.item_id
ORDER BY s.sample_id
