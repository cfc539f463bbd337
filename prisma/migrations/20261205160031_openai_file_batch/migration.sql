-- The output and error files of an OpenAI batch belong to its docbatch batch: they go with it when it
-- is deleted (DELETE /v1/batches/{id} or RETENTION_DAYS; the purge's final DELETE of the batch row
-- cascades to them and their parts), and are invisible while it is being deleted. Uploaded input
-- files have no batch (null).
ALTER TABLE "openai_files" ADD COLUMN "batch_id" TEXT;
ALTER TABLE "openai_files" ADD CONSTRAINT "openai_files_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE CASCADE ON UPDATE CASCADE;
CREATE INDEX "openai_files_batch_idx" ON "openai_files"("batch_id") WHERE "batch_id" IS NOT NULL;
UPDATE "openai_files" f SET "batch_id" = o."batch_id"
  FROM "openai_batches" o
 WHERE o."batch_id" IS NOT NULL AND f."id" IN (o."output_file_id", o."error_file_id");
