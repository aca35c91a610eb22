-- AlterTable
ALTER TABLE "users" ADD COLUMN     "username_key" TEXT;

-- Backfill (issue 11 item 11): for printable-ASCII usernames the RFC 8265 UsernameCaseMapped
-- key is lower(username) in every locale. Where two existing users differ only in case, the
-- oldest gets the key; the others keep signing in by their exact username. Non-ASCII usernames
-- are keyed by the application at start-up (its Unicode case mapping and NFC are the reference).
UPDATE "users" AS u SET "username_key" = k.key
FROM (
  SELECT "id", lower("username") AS key,
         row_number() OVER (PARTITION BY lower("username") ORDER BY "created_at", "id") AS n
  FROM "users"
  WHERE "username" ~ '^[!-~]+$'
) AS k
WHERE u."id" = k."id" AND k.n = 1;

-- CreateIndex
CREATE UNIQUE INDEX "users_username_key_key" ON "users"("username_key");
