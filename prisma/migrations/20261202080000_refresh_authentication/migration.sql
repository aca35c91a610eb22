-- How the user authenticated for a refresh family (auth_time, acr, amr): written when a token is
-- inserted, copied to its successor by the refresh statement, never updated, and indexed nowhere,
-- so the consuming UPDATE stays HOT. Refreshed access tokens carry auth_time and acr again
-- (OIDC Core §12.2, RFC 9470 §3). Adding nullable columns (and a constant default) rewrites nothing.
-- Families started before this migration have none: their refreshed tokens go without, as before.

-- AlterTable
ALTER TABLE "refresh_tokens" ADD COLUMN     "acr" TEXT,
ADD COLUMN     "amr" TEXT[] DEFAULT ARRAY[]::TEXT[],
ADD COLUMN     "auth_time" TIMESTAMPTZ(3);
