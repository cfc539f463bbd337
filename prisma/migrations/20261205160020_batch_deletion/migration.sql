-- Batch deletion and retention (issue 17).
-- deleted_at: the batch is being deleted (DELETE /v1/batches/{id}, or the retention sweep). From
--   the moment it is set the batch is invisible to every read (a plain 404); its documents are then
--   removed in bounded transactions, and the batch row last (its webhook deliveries and attempts
--   cascade). A batch row with deleted_at set is work left for the maintenance loop.
ALTER TABLE "batches" ADD COLUMN "deleted_at" TIMESTAMPTZ(3);
-- Batches whose purge is not finished (normally none or a few).
CREATE INDEX "batches_deleted_idx" ON "batches"("deleted_at") WHERE "deleted_at" IS NOT NULL;
-- Finished batches, oldest finish first: what the retention sweep looks for.
CREATE INDEX "batches_finished_idx" ON "batches"("finished_at") WHERE "finished_at" IS NOT NULL AND "deleted_at" IS NULL;
