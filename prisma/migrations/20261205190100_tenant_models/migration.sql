-- Tenant models (issue 20, docs/models.md "Tenant models"): model versions that belong to one tenant,
-- uploaded through POST /v1/models or written by a training job, served only to that tenant.
-- tenant_models: one row per version, `name@version` unique in the tenant's namespace.
--   training_job_id: the training job that wrote the version (unique: a retried job gets the same
--   version back). content_hash: sha256 over the files' paths and contents (workers cache the
--   materialised files under the model id and this hash). bytes: the files' total size.
-- tenant_model_files: the files (config.json and the files it names), by path relative to the
--   version directory, each in one bytea.
-- batches.tenant_model_id: the tenant model a batch runs (null for a shared model); no foreign key,
--   so that a deleted model's finished batches stay readable (a batch that runs one anyway fails
--   with MODEL_LOAD_FAILED).
CREATE TABLE "tenant_models" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "version" INTEGER NOT NULL,
    "task" TEXT NOT NULL,
    "runtime" TEXT NOT NULL,
    "config" JSONB NOT NULL,
    "source" TEXT NOT NULL,
    "training_job_id" TEXT,
    "bytes" BIGINT NOT NULL,
    "file_count" INTEGER NOT NULL,
    "content_hash" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "tenant_models_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "tenant_models_source_check" CHECK ("source" IN ('upload', 'training')),
    CONSTRAINT "tenant_models_version_check" CHECK ("version" > 0),
    CONSTRAINT "tenant_models_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "tenant_models_tenant_name_version_key" ON "tenant_models"("tenant_id", "name", "version");
CREATE UNIQUE INDEX "tenant_models_training_job_id_key" ON "tenant_models"("training_job_id");

CREATE TABLE "tenant_model_files" (
    "model_id" TEXT NOT NULL,
    "path" TEXT NOT NULL,
    "data" BYTEA NOT NULL,
    CONSTRAINT "tenant_model_files_pkey" PRIMARY KEY ("model_id", "path"),
    CONSTRAINT "tenant_model_files_model_id_fkey" FOREIGN KEY ("model_id") REFERENCES "tenant_models"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

ALTER TABLE "batches" ADD COLUMN "tenant_model_id" TEXT;
CREATE INDEX "batches_tenant_model_idx" ON "batches"("tenant_model_id") WHERE "tenant_model_id" IS NOT NULL;
