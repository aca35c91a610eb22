-- CreateIndex
CREATE INDEX "authorization_requests_browser_hash_created_at_idx" ON "authorization_requests"("browser_hash", "created_at");
