-- CreateTable
CREATE TABLE "used_jtis" (
    "namespace" TEXT NOT NULL,
    "jti" TEXT NOT NULL,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "used_jtis_pkey" PRIMARY KEY ("namespace","jti")
);

-- CreateIndex
CREATE INDEX "used_jtis_expires_at_idx" ON "used_jtis"("expires_at");
