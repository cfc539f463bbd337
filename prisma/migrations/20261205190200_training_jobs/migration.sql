-- Training jobs (issue 20): a tenant trains a text classifier from a labelled upload; the result is a
-- tenant model version (created through createTenantModelVersion with source 'training').
-- status: queued -> running -> succeeded | failed | cancelled (cancel of a queued job: cancelled at
--   once; of a running one: cancel_requested_at is set and the worker aborts between batches).
-- progress: {epoch, epochs, loss, val_loss, val_accuracy, eta_seconds}, written by the worker each epoch.
-- worker: the worker process that runs (ran) the latest attempt (its id: host-pid-random).
-- attempts: how many times a worker started the job (a worker killed mid-training: the job is retried
--   from the start; training is deterministic, and the model version is created at most once per job).
CREATE TYPE "TrainingJobStatus" AS ENUM ('queued', 'running', 'succeeded', 'failed', 'cancelled');

CREATE TABLE "training_jobs" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "status" "TrainingJobStatus" NOT NULL DEFAULT 'queued',
    "recipe" TEXT NOT NULL,
    "hyperparameters" JSONB NOT NULL DEFAULT '{}',
    "model_name" TEXT NOT NULL,
    "result_model" TEXT,
    "example_count" INTEGER NOT NULL DEFAULT 0,
    "label_counts" JSONB NOT NULL DEFAULT '{}',
    "progress" JSONB,
    "metrics" JSONB,
    "error" JSONB,
    "webhook_url" TEXT,
    "backend" TEXT,
    "worker" TEXT,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "cancel_requested_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "training_jobs_pkey" PRIMARY KEY ("id"),
    CONSTRAINT "training_jobs_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "training_jobs_tenant_created_idx" ON "training_jobs"("tenant_id", "created_at" DESC, "id" DESC);
CREATE INDEX "training_jobs_created_idx" ON "training_jobs"("created_at" DESC, "id" DESC);

-- The labelled examples of a job, in upload order (seq = the NDJSON line). Streamed in with COPY in the
-- transaction that creates the job: an upload with any bad line stores nothing.
CREATE TABLE "training_examples" (
    "job_id" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "text" TEXT NOT NULL,
    "label" TEXT NOT NULL,
    CONSTRAINT "training_examples_pkey" PRIMARY KEY ("job_id", "seq"),
    CONSTRAINT "training_examples_job_id_fkey" FOREIGN KEY ("job_id") REFERENCES "training_jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE
);

-- Webhook deliveries belong to a batch or (new) to a training job: the outbox, relay and sender are shared.
ALTER TABLE "webhook_deliveries" ALTER COLUMN "batch_id" DROP NOT NULL;
ALTER TABLE "webhook_deliveries" ADD COLUMN "training_job_id" TEXT;
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_training_job_id_fkey" FOREIGN KEY ("training_job_id") REFERENCES "training_jobs"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_owner_check" CHECK (("batch_id" IS NULL) <> ("training_job_id" IS NULL));
CREATE INDEX "webhook_deliveries_training_job_idx" ON "webhook_deliveries"("training_job_id", "created_at") WHERE "training_job_id" IS NOT NULL;
