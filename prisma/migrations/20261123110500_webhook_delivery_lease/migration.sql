-- Webhook delivery relay lease and redelivery series.
-- claimed_until: a relay or sender holds the delivery until then (the relay enqueued its job, or an
--   attempt is in flight); after it passes, the relay picks the delivery up again (crash recovery).
-- series_base: value of `attempts` when the current attempt series began (0, or the count at the
--   last redelivery); the retry schedule is indexed by attempts - series_base.
ALTER TABLE "webhook_deliveries" ADD COLUMN "claimed_until" TIMESTAMPTZ(3);
ALTER TABLE "webhook_deliveries" ADD COLUMN "series_base" INTEGER NOT NULL DEFAULT 0;
-- One row per attempt number: a late result of an attempt the relay already recorded as
-- interrupted is dropped instead of logged twice.
CREATE UNIQUE INDEX "webhook_attempts_delivery_id_attempt_key" ON "webhook_attempts"("delivery_id", "attempt");
