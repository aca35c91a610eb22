-- Retention (purge of dead rows) and key revocation that touches only live refresh tokens.
-- IF [NOT] EXISTS: on a large refresh_tokens table, create these indexes beforehand with
-- CREATE INDEX CONCURRENTLY (same names), so this migration does not block writes while it builds them.

-- DropIndex
DROP INDEX IF EXISTS "refresh_tokens_kid_idx";

-- CreateIndex
CREATE INDEX IF NOT EXISTS "refresh_tokens_live_kid_idx" ON "refresh_tokens"("kid", "expires_at") WHERE (num_nulls(consumed_at, revoked_at) = 2);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "refresh_tokens_live_expires_at_idx" ON "refresh_tokens"("expires_at") WHERE (num_nulls(consumed_at, revoked_at) = 2);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "refresh_tokens_consumed_at_idx" ON "refresh_tokens"("consumed_at") WHERE (consumed_at IS NOT NULL);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "refresh_tokens_revoked_at_idx" ON "refresh_tokens"("revoked_at") WHERE (revoked_at IS NOT NULL);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "sessions_expires_at_idx" ON "sessions"("expires_at");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "sessions_ended_at_idx" ON "sessions"("ended_at") WHERE (ended_at IS NOT NULL);
