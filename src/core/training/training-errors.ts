/**
 * The labelled examples cannot train a model (too few examples or labels, a malformed example):
 * the job's input is at fault, so it fails at once and is never retried. `index` is the 0-based
 * position of the offending example, when one is to blame.
 */
export class TrainingDataError extends Error {
  readonly code = 'INVALID_TRAINING_DATA';
  constructor(
    message: string,
    readonly index?: number,
  ) {
    super(message);
    this.name = 'TrainingDataError';
  }
}

/** Training stopped because its AbortSignal fired (a cancelled job); nothing was produced. */
export class TrainingCancelledError extends Error {
  readonly code = 'TRAINING_CANCELLED';
  constructor() {
    super('training cancelled');
    this.name = 'TrainingCancelledError';
  }
}
