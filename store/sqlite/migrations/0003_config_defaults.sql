-- Configuration-wide defaults (config.Defaults) as JSON, '' when none.
ALTER TABLE config_version ADD COLUMN defaults TEXT NOT NULL DEFAULT '';
