-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "dpop_bound_access_tokens" BOOLEAN NOT NULL DEFAULT false;

-- AlterTable
ALTER TABLE "authorization_requests" ADD COLUMN     "dpop_jkt" TEXT;

-- AlterTable
ALTER TABLE "authorization_codes" ADD COLUMN     "dpop_jkt" TEXT;
