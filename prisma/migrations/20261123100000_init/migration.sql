-- docbatch initial schema. Written by hand to match prisma/schema.prisma (Prisma cannot express
-- the hash partitioning of "documents"); see docs/architecture.md for the reasoning.

-- CreateEnum
CREATE TYPE "BatchStatus" AS ENUM ('queued', 'running', 'completed', 'failed', 'cancelling', 'cancelled', 'expired');

-- CreateEnum
CREATE TYPE "DocumentStatus" AS ENUM ('queued', 'running', 'completed', 'failed', 'cancelled', 'expired');

-- CreateEnum
CREATE TYPE "DeliveryStatus" AS ENUM ('pending', 'succeeded', 'failed');

-- CreateTable
CREATE TABLE "tenants" (
    "id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "webhook_secret" TEXT NOT NULL,
    "previous_webhook_secret" TEXT,
    "previous_secret_expires_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "tenants_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "tenants_name_key" ON "tenants"("name");

-- CreateTable
CREATE TABLE "api_keys" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "key_hash" TEXT NOT NULL,
    "prefix" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "revoked_at" TIMESTAMPTZ(3),
    "last_used_at" TIMESTAMPTZ(3),
    CONSTRAINT "api_keys_pkey" PRIMARY KEY ("id")
);
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys"("key_hash");
CREATE INDEX "api_keys_tenant_id_idx" ON "api_keys"("tenant_id");

-- CreateTable
CREATE TABLE "batches" (
    "id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "task" TEXT NOT NULL,
    "model" TEXT NOT NULL,
    "options" JSONB NOT NULL DEFAULT '{}',
    "metadata" JSONB NOT NULL DEFAULT '{}',
    "priority" INTEGER NOT NULL DEFAULT 5,
    "webhook_url" TEXT,
    "status" "BatchStatus" NOT NULL DEFAULT 'queued',
    "error" JSONB,
    "completion_window" TEXT NOT NULL,
    "total" INTEGER NOT NULL DEFAULT 0,
    "queued_count" INTEGER NOT NULL DEFAULT 0,
    "running_count" INTEGER NOT NULL DEFAULT 0,
    "completed_count" INTEGER NOT NULL DEFAULT 0,
    "failed_count" INTEGER NOT NULL DEFAULT 0,
    "cancelled_count" INTEGER NOT NULL DEFAULT 0,
    "expired_count" INTEGER NOT NULL DEFAULT 0,
    "chunk_count" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "batches_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "batches_tenant_created_idx" ON "batches"("tenant_id", "created_at" DESC, "id" DESC);
CREATE INDEX "batches_tenant_status_created_idx" ON "batches"("tenant_id", "status", "created_at" DESC, "id" DESC);
CREATE INDEX "batches_created_idx" ON "batches"("created_at" DESC, "id" DESC);

-- CreateTable (hash-partitioned by batch_id: 16 partitions)
CREATE TABLE "documents" (
    "batch_id" TEXT NOT NULL,
    "seq" INTEGER NOT NULL,
    "client_id" TEXT NOT NULL,
    "text" TEXT NOT NULL,
    "metadata" JSONB,
    "status" "DocumentStatus" NOT NULL DEFAULT 'queued',
    "result" JSONB,
    "error" JSONB,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "finished_at" TIMESTAMPTZ(3),
    CONSTRAINT "documents_pkey" PRIMARY KEY ("batch_id", "seq")
) PARTITION BY HASH ("batch_id");
CREATE TABLE "documents_p00" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 0);
CREATE TABLE "documents_p01" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 1);
CREATE TABLE "documents_p02" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 2);
CREATE TABLE "documents_p03" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 3);
CREATE TABLE "documents_p04" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 4);
CREATE TABLE "documents_p05" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 5);
CREATE TABLE "documents_p06" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 6);
CREATE TABLE "documents_p07" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 7);
CREATE TABLE "documents_p08" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 8);
CREATE TABLE "documents_p09" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 9);
CREATE TABLE "documents_p10" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 10);
CREATE TABLE "documents_p11" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 11);
CREATE TABLE "documents_p12" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 12);
CREATE TABLE "documents_p13" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 13);
CREATE TABLE "documents_p14" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 14);
CREATE TABLE "documents_p15" PARTITION OF "documents" FOR VALUES WITH (MODULUS 16, REMAINDER 15);
CREATE UNIQUE INDEX "documents_batch_client_key" ON "documents"("batch_id", "client_id");
CREATE INDEX "documents_batch_status_seq_idx" ON "documents"("batch_id", "status", "seq");

-- CreateTable
CREATE TABLE "webhook_deliveries" (
    "id" TEXT NOT NULL,
    "batch_id" TEXT NOT NULL,
    "tenant_id" TEXT NOT NULL,
    "event_type" TEXT NOT NULL,
    "url" TEXT NOT NULL,
    "payload" TEXT NOT NULL,
    "status" "DeliveryStatus" NOT NULL DEFAULT 'pending',
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMPTZ(3),
    "last_status_code" INTEGER,
    "last_error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "delivered_at" TIMESTAMPTZ(3),
    CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "webhook_deliveries_batch_id_created_at_idx" ON "webhook_deliveries"("batch_id", "created_at");
CREATE INDEX "webhook_deliveries_status_next_attempt_at_idx" ON "webhook_deliveries"("status", "next_attempt_at");

-- CreateTable
CREATE TABLE "webhook_attempts" (
    "id" BIGSERIAL NOT NULL,
    "delivery_id" TEXT NOT NULL,
    "attempt" INTEGER NOT NULL,
    "status_code" INTEGER,
    "latency_ms" INTEGER NOT NULL,
    "error" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "webhook_attempts_pkey" PRIMARY KEY ("id")
);
CREATE INDEX "webhook_attempts_delivery_id_attempt_idx" ON "webhook_attempts"("delivery_id", "attempt");

-- CreateTable
CREATE TABLE "idempotency_keys" (
    "tenant_id" TEXT NOT NULL,
    "key" TEXT NOT NULL,
    "request_hash" TEXT NOT NULL,
    "batch_id" TEXT NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("tenant_id", "key")
);
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys"("created_at");

-- AddForeignKey
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "batches" ADD CONSTRAINT "batches_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "documents" ADD CONSTRAINT "documents_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_batch_id_fkey" FOREIGN KEY ("batch_id") REFERENCES "batches"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "webhook_attempts" ADD CONSTRAINT "webhook_attempts_delivery_id_fkey" FOREIGN KEY ("delivery_id") REFERENCES "webhook_deliveries"("id") ON DELETE CASCADE ON UPDATE CASCADE;
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- Live counts. batches.*_count follow every UPDATE of documents.status through one statement-level
-- trigger with transition tables, so the API reads counts without counting millions of rows and
-- no code path (worker write-back, cancel, retry, expiry) can forget to maintain them. Inserts
-- are counted by the code that creates the batch (it knows the total), which keeps COPY fast.
CREATE FUNCTION "documents_maintain_counts"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH delta AS (
    SELECT batch_id, status, -1 AS n FROM old_rows
    UNION ALL
    SELECT batch_id, status, 1 AS n FROM new_rows
  ), agg AS (
    SELECT batch_id,
      coalesce(sum(n) FILTER (WHERE status = 'queued'), 0) AS queued,
      coalesce(sum(n) FILTER (WHERE status = 'running'), 0) AS running,
      coalesce(sum(n) FILTER (WHERE status = 'completed'), 0) AS completed,
      coalesce(sum(n) FILTER (WHERE status = 'failed'), 0) AS failed,
      coalesce(sum(n) FILTER (WHERE status = 'cancelled'), 0) AS cancelled,
      coalesce(sum(n) FILTER (WHERE status = 'expired'), 0) AS expired
    FROM delta GROUP BY batch_id
  )
  UPDATE "batches" b SET
    "queued_count" = b."queued_count" + agg.queued,
    "running_count" = b."running_count" + agg.running,
    "completed_count" = b."completed_count" + agg.completed,
    "failed_count" = b."failed_count" + agg.failed,
    "cancelled_count" = b."cancelled_count" + agg.cancelled,
    "expired_count" = b."expired_count" + agg.expired,
    "updated_at" = now()
  FROM agg
  WHERE b."id" = agg.batch_id
    AND (agg.queued, agg.running, agg.completed, agg.failed, agg.cancelled, agg.expired) <> (0, 0, 0, 0, 0, 0);
  RETURN NULL;
END $$;

CREATE TRIGGER "documents_counts" AFTER UPDATE ON "documents"
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION "documents_maintain_counts"();
