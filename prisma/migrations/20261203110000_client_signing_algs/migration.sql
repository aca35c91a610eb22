-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "request_object_signing_alg" TEXT,
ADD COLUMN     "token_endpoint_auth_signing_alg" TEXT;
