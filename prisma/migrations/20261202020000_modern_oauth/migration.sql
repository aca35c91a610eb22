-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "jwks" JSONB,
ADD COLUMN     "jwks_uri" TEXT,
ADD COLUMN     "profile" TEXT,
ADD COLUMN     "require_pushed_authorization_requests" BOOLEAN NOT NULL DEFAULT false,
ADD COLUMN     "token_endpoint_auth_method" TEXT;

-- CreateTable
CREATE TABLE "pushed_authorization_requests" (
    "id" TEXT NOT NULL,
    "client_id" TEXT NOT NULL,
    "parameters" JSONB NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "pushed_authorization_requests_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "pushed_authorization_requests_expires_at_idx" ON "pushed_authorization_requests"("expires_at");
