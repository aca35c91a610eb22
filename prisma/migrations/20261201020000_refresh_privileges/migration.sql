-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "disabled" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "refresh_tokens" ADD COLUMN     "family_created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
ADD COLUMN     "successor_jti" TEXT;

-- Families that exist already started with their first token (REFRESH_FAMILY_MAX_AGE counts from there).
UPDATE "refresh_tokens" t SET "family_created_at" = f.started
FROM (SELECT "family_id", min("created_at") AS started FROM "refresh_tokens" GROUP BY "family_id") f
WHERE t."family_id" = f."family_id";
