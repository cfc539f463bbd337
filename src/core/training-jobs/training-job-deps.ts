import type { UploadSlots } from '../batches/upload-slots';
import type { ApiConfig } from '../config';
import type { Database } from '../db/database';
import type { Logger } from '../logger';
import type { QueueSet } from '../queue/queues';
import type { SubmissionLimiter } from '../tenants/submission-limits';

/** Limits of training uploads (from config; see the README configuration table). */
export interface TrainingJobSettings {
  /** `MAX_DOC_CHARS`: longest example text, characters. */
  maxTextChars: number;
  /** `MAX_TRAINING_EXAMPLES`: examples per upload at most. */
  maxExamples: number;
  /** `MAX_TRAINING_BODY_BYTES`: body bytes per upload at most (streamed; 413 beyond). */
  maxBodyBytes: number;
  /** `TRAINING_MIN_EXAMPLES_PER_LABEL`: every label needs at least this many examples. */
  minExamplesPerLabel: number;
  /** `WEBHOOK_ALLOWLIST`. */
  webhookAllowlist: readonly string[];
  /** `MAX_ACTIVE_TRAINING_JOBS`: training jobs a tenant may have queued or running at once. */
  maxActive: number;
}

/** What the training-job operations use (the API builds one; the CLI goes through the API). */
export interface TrainingJobDeps {
  db: Database;
  queues: QueueSet;
  logger: Logger;
  /** Bound on concurrent uploads of this process (shared with batch uploads); when absent, unbounded. */
  uploadSlots?: UploadSlots;
  /**
   * The batch submissions' per-tenant rate limit (`RATE_LIMIT_PER_MINUTE`): a training submission
   * takes from the same budget. When absent, not limited.
   */
  limiter?: SubmissionLimiter;
  settings: TrainingJobSettings;
}

export function trainingJobSettingsFrom(config: ApiConfig): TrainingJobSettings {
  return {
    maxTextChars: config.MAX_DOC_CHARS,
    maxExamples: config.MAX_TRAINING_EXAMPLES,
    maxBodyBytes: config.MAX_TRAINING_BODY_BYTES,
    minExamplesPerLabel: config.TRAINING_MIN_EXAMPLES_PER_LABEL,
    webhookAllowlist: config.WEBHOOK_ALLOWLIST,
    maxActive: config.MAX_ACTIVE_TRAINING_JOBS,
  };
}
