-- The refresh grant's consuming UPDATE (consumed_at, successor_jti) becomes a HOT update: no index
-- names consumed_at any more (keys nor predicates), so consuming a token writes no index entry.
-- Retention finds consumed tokens through their successors (parent_jti, set on insert) and expired
-- tokens through (kid, expires_at); key revocation reads the key's unexpired tokens.
-- Tokens consumed before this migration have no successor naming them: they go when they expire.
-- IF [NOT] EXISTS: on a large refresh_tokens table, create these indexes beforehand with
-- CREATE INDEX CONCURRENTLY (same names), so this migration does not block writes while it builds them.

-- DropIndex
DROP INDEX IF EXISTS "refresh_tokens_session_id_idx";

-- DropIndex
DROP INDEX IF EXISTS "refresh_tokens_live_kid_idx";

-- DropIndex
DROP INDEX IF EXISTS "refresh_tokens_live_expires_at_idx";

-- DropIndex
DROP INDEX IF EXISTS "refresh_tokens_consumed_at_idx";

-- AlterTable
ALTER TABLE "refresh_tokens" ADD COLUMN     "parent_jti" TEXT;

-- CreateIndex
CREATE INDEX IF NOT EXISTS "refresh_tokens_session_id_idx" ON "refresh_tokens"("session_id") WHERE (session_id IS NOT NULL);

-- CreateIndex
CREATE INDEX IF NOT EXISTS "refresh_tokens_kid_expires_at_idx" ON "refresh_tokens"("kid", "expires_at");

-- CreateIndex
CREATE INDEX IF NOT EXISTS "refresh_tokens_successor_created_at_idx" ON "refresh_tokens"("created_at") WHERE (parent_jti IS NOT NULL);
