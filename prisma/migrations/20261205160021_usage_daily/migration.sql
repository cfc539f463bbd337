-- Usage per tenant, UTC day, task and model (issue 17). Written in the transactions that create
-- batches (batches, documents_submitted) and that store results (documents_completed,
-- documents_failed, input_characters, input_tokens), so it follows the rows exactly and survives
-- batch deletion and retention (no foreign key to batches).
CREATE TABLE "usage_daily" (
    "tenant_id" TEXT NOT NULL,
    "day" DATE NOT NULL,
    "task" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "batches" INTEGER NOT NULL DEFAULT 0,
    "documents_submitted" BIGINT NOT NULL DEFAULT 0,
    "documents_completed" BIGINT NOT NULL DEFAULT 0,
    "documents_failed" BIGINT NOT NULL DEFAULT 0,
    "input_characters" BIGINT NOT NULL DEFAULT 0,
    "input_tokens" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "usage_daily_pkey" PRIMARY KEY ("tenant_id", "day", "task", "model")
);
-- The admin view across tenants reads by day range.
CREATE INDEX "usage_daily_day_idx" ON "usage_daily"("day");
ALTER TABLE "usage_daily" ADD CONSTRAINT "usage_daily_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;
