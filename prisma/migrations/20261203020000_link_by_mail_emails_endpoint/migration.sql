-- AlterTable
ALTER TABLE "account_tokens" ADD COLUMN     "pending_link_id" TEXT;

-- AlterTable
ALTER TABLE "identity_providers" ADD COLUMN     "emails_endpoint" TEXT;
