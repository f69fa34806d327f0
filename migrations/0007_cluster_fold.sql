-- Clusters are compared case-insensitively by one rule in Rust and SQL: the Unicode full
-- lower-case mapping, which lower() applies under the ICU root collation (under the
-- database's libc locale it maps `İ` to `i`, or only ASCII under `C`, and a cluster
-- filter would keep different tickets in the open set and in the closed one).
DROP INDEX IF EXISTS tickets.inc_history_actionable_cluster_end_idx;
CREATE INDEX IF NOT EXISTS inc_history_actionable_cluster_end_idx
    ON tickets.inc_history (lower(cluster COLLATE "und-x-icu"),
                            (COALESCE(valid_to, 'infinity'::timestamptz)), valid_from)
    WHERE is_actionable;
