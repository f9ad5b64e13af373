-- The schedule's fire time a scheduled run is for: at most one run per
-- rule and fire time, so a scheduled job taken up again after a crash does
-- not run the rule twice.
ALTER TABLE runs ADD COLUMN fire_at timestamptz;
CREATE UNIQUE INDEX runs_fire ON runs (rule_id, fire_at) WHERE fire_at IS NOT NULL;
