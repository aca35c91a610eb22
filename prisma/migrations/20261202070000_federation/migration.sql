-- CreateTable
CREATE TABLE "identity_providers" (
    "id" UUID NOT NULL,
    "slug" TEXT NOT NULL,
    "display_name" TEXT NOT NULL,
    "kind" TEXT NOT NULL,
    "issuer" TEXT,
    "client_id" TEXT NOT NULL,
    "auth_method" TEXT NOT NULL,
    "credential_enc" TEXT,
    "kek_id" TEXT,
    "scope" TEXT NOT NULL,
    "authorization_endpoint" TEXT,
    "token_endpoint" TEXT,
    "userinfo_endpoint" TEXT,
    "claim_mapping" JSONB NOT NULL DEFAULT '{}',
    "jit" BOOLEAN NOT NULL DEFAULT false,
    "domains" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "enabled" BOOLEAN NOT NULL DEFAULT true,
    "upstream_logout" BOOLEAN NOT NULL DEFAULT false,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "identity_providers_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "federated_identities" (
    "id" UUID NOT NULL,
    "provider_id" UUID NOT NULL,
    "subject" TEXT NOT NULL,
    "user_id" UUID NOT NULL,
    "email" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "last_used_at" TIMESTAMPTZ(3),

    CONSTRAINT "federated_identities_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "federation_states" (
    "state_hash" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "browser_hash" TEXT NOT NULL,
    "request_id" TEXT,
    "provider_id" UUID NOT NULL,
    "nonce" TEXT,
    "code_verifier" TEXT,
    "return_to" TEXT,
    "id_token_enc" TEXT,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "federation_states_pkey" PRIMARY KEY ("state_hash")
);

-- CreateTable
CREATE TABLE "federation_pending_links" (
    "id" TEXT NOT NULL,
    "browser_hash" TEXT NOT NULL,
    "request_id" TEXT NOT NULL,
    "provider_id" UUID NOT NULL,
    "subject" TEXT NOT NULL,
    "email" TEXT,
    "user_id" UUID NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "federation_pending_links_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "federated_sessions" (
    "session_id" TEXT NOT NULL,
    "provider_id" UUID NOT NULL,
    "id_token_enc" TEXT NOT NULL,
    "kek_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "federated_sessions_pkey" PRIMARY KEY ("session_id")
);

-- CreateIndex
CREATE UNIQUE INDEX "identity_providers_slug_key" ON "identity_providers"("slug");

-- CreateIndex
CREATE INDEX "federated_identities_user_id_idx" ON "federated_identities"("user_id");

-- CreateIndex
CREATE UNIQUE INDEX "federated_identities_provider_id_subject_key" ON "federated_identities"("provider_id", "subject");

-- CreateIndex
CREATE INDEX "federation_states_expires_at_idx" ON "federation_states"("expires_at");

-- CreateIndex
CREATE INDEX "federation_pending_links_request_id_idx" ON "federation_pending_links"("request_id");

-- CreateIndex
CREATE INDEX "federation_pending_links_expires_at_idx" ON "federation_pending_links"("expires_at");

-- AddForeignKey
ALTER TABLE "federated_identities" ADD CONSTRAINT "federated_identities_provider_id_fkey" FOREIGN KEY ("provider_id") REFERENCES "identity_providers"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "federated_identities" ADD CONSTRAINT "federated_identities_user_id_fkey" FOREIGN KEY ("user_id") REFERENCES "users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "federated_sessions" ADD CONSTRAINT "federated_sessions_session_id_fkey" FOREIGN KEY ("session_id") REFERENCES "sessions"("id") ON DELETE CASCADE ON UPDATE CASCADE;
