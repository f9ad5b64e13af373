-- When a sync changed an identity whose consequences (cancelling what it
-- no longer matches, immediate rules) are not yet known to be done: set in
-- the sync's transaction, cleared once they are, retried by serving nodes
-- until then.
ALTER TABLE identities ADD COLUMN pending_since TEXT;
CREATE INDEX identities_pending ON identities (pending_since) WHERE pending_since IS NOT NULL;
