-- Pauses a target asked for (Retry-After) since the last attempt that
-- counted: they use up no attempt, but their number is bounded.
ALTER TABLE revocations ADD COLUMN pauses integer NOT NULL DEFAULT 0;
