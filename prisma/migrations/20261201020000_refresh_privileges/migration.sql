-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "disabled" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
-- Families that exist already count REFRESH_FAMILY_MAX_AGE from this migration (the default is
-- evaluated once, without rewriting the table: no backfill that would lock refresh_tokens).
ALTER TABLE "refresh_tokens" ADD COLUMN     "family_created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
ADD COLUMN     "successor_jti" TEXT;
