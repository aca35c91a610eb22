-- Issue 11: per-client require_pkce (on for new clients; clients registered before keep today's
-- behaviour, so the column is added as false and only then defaults to true), and whether the
-- authorization request named redirect_uri (RFC 6749 §4.1.3).

-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "require_pkce" BOOLEAN NOT NULL DEFAULT false;
ALTER TABLE "clients" ALTER COLUMN "require_pkce" SET DEFAULT true;

-- AlterTable
ALTER TABLE "authorization_requests" ADD COLUMN     "redirect_uri_sent" BOOLEAN NOT NULL DEFAULT true;

-- AlterTable
ALTER TABLE "authorization_codes" ADD COLUMN     "redirect_uri_sent" BOOLEAN NOT NULL DEFAULT true;
