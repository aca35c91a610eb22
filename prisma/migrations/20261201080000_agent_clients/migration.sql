-- AlterTable
ALTER TABLE "clients" ADD COLUMN     "last_used_at" TIMESTAMPTZ(3),
ADD COLUMN     "metadata" JSONB,
ADD COLUMN     "origin" TEXT NOT NULL DEFAULT 'admin',
ADD COLUMN     "registration_token_hash" TEXT,
ADD COLUMN     "revoked_at" TIMESTAMPTZ(3);

-- CreateTable
CREATE TABLE "registration_tokens" (
    "id" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "max_uses" INTEGER,
    "uses" INTEGER NOT NULL DEFAULT 0,
    "expires_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "registration_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "registration_tokens_token_hash_key" ON "registration_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "clients_origin_idx" ON "clients"("origin");
