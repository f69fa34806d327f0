-- Every stored point is a point on Earth: a NaN or infinite coordinate (which
-- LocationIQ's string answers can carry) ranked at 0 m from anywhere in `nearest`.
-- Rows that break it already are dropped from the caches (asked again) and unset on
-- tickets (resolved again by the next geocoding run) before the checks are added.
DELETE FROM tickets.geo_clusters
WHERE NOT (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180);
DELETE FROM tickets.geo_locations
WHERE NOT (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180);
DELETE FROM tickets.gazetteer
WHERE NOT (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180);
UPDATE tickets.inc SET latitude = NULL, longitude = NULL, geo_source = NULL
WHERE NOT (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180);

ALTER TABLE tickets.inc ADD CONSTRAINT inc_point_on_earth
    CHECK (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180);
ALTER TABLE tickets.gazetteer ADD CONSTRAINT gazetteer_point_on_earth
    CHECK (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180);
ALTER TABLE tickets.geo_clusters ADD CONSTRAINT geo_clusters_point_on_earth
    CHECK (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180);
ALTER TABLE tickets.geo_locations ADD CONSTRAINT geo_locations_point_on_earth
    CHECK (latitude BETWEEN -90 AND 90 AND longitude BETWEEN -180 AND 180);
