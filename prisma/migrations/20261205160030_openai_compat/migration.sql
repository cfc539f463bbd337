-- OpenAI Batch API compatibility (/openai/v1, docs/openai-compatibility.md).
-- openai_files: uploaded input files (purpose "batch") and the output and error files written when
--   an OpenAI batch finishes (purpose "batch_output"). Their bytes are in openai_file_parts, in parts
--   of about 1 MiB, in order: an upload streams into parts as it arrives, a download streams them out.
CREATE TABLE "openai_files" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "purpose" TEXT NOT NULL,
    "filename" TEXT NOT NULL,
    "bytes" BIGINT NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "openai_files_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "openai_files_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "openai_files_tenant_created_idx" ON "openai_files"("tenant_id", "created_at" DESC, "id" DESC);

CREATE TABLE "openai_file_parts" (
    "file_id" TEXT NOT NULL,
    "part" INTEGER NOT NULL,
    "data" BYTEA NOT NULL,
    CONSTRAINT "openai_file_parts_pkey" PRIMARY KEY ("file_id", "part"),
    CONSTRAINT "openai_file_parts_file_id_fkey" FOREIGN KEY ("file_id") REFERENCES "openai_files"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- openai_batches: the OpenAI view of a batch created through /openai/v1/batches. Its id is the id of
--   the docbatch batch (batch_id, the same value) that runs its requests; a batch whose input file
--   failed validation has no docbatch batch (batch_id null) and keeps its line errors in "errors".
--   output_file_id / error_file_id are set, with files_written_at, once the batch finished and its
--   output and error files were written (null when the file would be empty).
CREATE TABLE "openai_batches" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "batch_id" TEXT,
    "input_file_id" TEXT NOT NULL,
    "endpoint" TEXT NOT NULL,
    "completion_window" TEXT NOT NULL,
    "metadata" JSONB,
    "errors" JSONB,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "failed_at" TIMESTAMPTZ(3),
    "cancelling_at" TIMESTAMPTZ(3),
    "output_file_id" TEXT,
    "error_file_id" TEXT,
    "files_written_at" TIMESTAMPTZ(3),
    CONSTRAINT "openai_batches_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "openai_batches_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE,
    CONSTRAINT "openai_batches_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "openai_batches_batch_id_key" ON "openai_batches"("batch_id");
CREATE INDEX "openai_batches_tenant_created_idx" ON "openai_batches"("tenant_id", "created_at" DESC, "id" DESC);
