import { Counter, Histogram } from 'prom-client';
import { registry } from '../metrics';

/** Batch submission metrics of the API process (on its /metrics). */

export const batchesCreated = new Counter({
  name: 'docbatch_batches_created_total',
  help: 'Batches created, by task and body form',
  labelNames: ['task', 'form'] as const,
  registers: [registry],
});

export const documentsIngested = new Counter({
  name: 'docbatch_documents_ingested_total',
  help: 'Documents stored by accepted uploads, by task',
  labelNames: ['task'] as const,
  registers: [registry],
});

export const uploadsRejected = new Counter({
  name: 'docbatch_uploads_rejected_total',
  help: 'Batch submissions refused, by error code (nothing stored)',
  labelNames: ['code'] as const,
  registers: [registry],
});

export const ingestSeconds = new Histogram({
  name: 'docbatch_ingest_seconds',
  help: 'Time from the start of the ingest transaction to COMMIT of an accepted upload',
  buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 180, 600, 1800],
  registers: [registry],
});
