/**
 * Training jobs (issue 20): a labelled upload becomes a queued job; a worker trains a text classifier
 * from it (src/core/training) in a thread of its own and stores the result as a tenant model version.
 */
export { createTrainingJob } from './create-training-job';
export type { CreateTrainingJobInput } from './create-training-job';
export { enqueueTrainingJob, TRAINING_JOB_OPTIONS } from './enqueue-training-job';
export { ExampleValidator, MAX_LABEL_CHARS, MAX_LABELS } from './example-validator';
export { trainingJobSettingsFrom } from './training-job-deps';
export type { TrainingJobDeps, TrainingJobSettings } from './training-job-deps';
export { TRAINING_END_STATUSES, TRAINING_JOB_STATUSES, toTrainingJobObject } from './training-job-object';
export type {
  TrainingJobObject,
  TrainingJobRow,
  TrainingJobStatus,
  TrainingProgress,
} from './training-job-object';
export {
  cancelTrainingJob,
  getTrainingJob,
  listTrainingJobs,
  listTrainingJobsForOps,
} from './training-job-queries';
export type { OpsTrainingJob } from './training-job-queries';
export type { ListTrainingJobsOptions } from './training-job-queries';
export {
  finishTrainingJob,
  finishTrainingJobNow,
  loadTrainingCheckpoint,
  loadTrainingExamples,
  MAX_TRAINING_STARTS,
  recordTrainingProgress,
  startTrainingJob,
  TRAINING_END_EVENTS,
  TRAINING_INTERRUPTED,
  trainingCancelRequested,
  unfinishedTrainingJobIds,
} from './training-job-store';
export { DEFAULT_RECIPE, resolveTrainingParams } from './training-params';
export { TRAINING_RECIPES } from './training-recipes';
export { runTrainingThread, TrainingAbortedError, TrainingFailedError } from './training-runner';
export type { TrainingRunHooks, TrainingRunResult } from './training-runner';
