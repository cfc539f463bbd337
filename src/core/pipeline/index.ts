/**
 * The inference pipeline: chunk jobs -> claimed documents -> encoded in the inference thread ->
 * length-bucketed tensor batches -> models -> bulk write-back; plus recovery (reconciler), expiry
 * and the leader lease that runs them once per deployment.
 *
 * Terminology: a **chunk job** carries a `seq` range of one batch (ids only); **claiming** it marks
 * its unfinished documents `running` and reads their texts; a **tensor batch** is the documents of
 * one `runBatch` call (possibly from several chunk jobs of the same model and options); **padding
 * ratio** is the share of a tensor batch's `documents x longest length` tokens that is padding.
 */
export { ChunkPipeline } from './chunk-pipeline';
export type { ChunkSummary, PipelineLimits, PipelineStats } from './chunk-pipeline';
export { claimChunks, settleRangeNow, writeOutcomes } from './chunk-store';
export type { ChunkRange, ClaimResult, DocOutcome } from './chunk-store';
export { DynamicBatcher } from './dynamic-batcher';
export type { DynamicBatcherOptions } from './dynamic-batcher';
export { expireBatches } from './expiry';
export { InferenceClient, InferenceThreadError } from './inference-client';
export { LeaderLock } from './leader-lock';
export { MaintenanceLoop } from './maintenance-loop';
export type { MaintenanceOptions } from './maintenance-loop';
export * as pipelineMetrics from './pipeline-metrics';
export { reconcile } from './reconciler';
export type { ReconcileOptions, ReconcileResult } from './reconciler';
export { bucketTensorBatches, cutTensorBatches, overallPaddingRatio, paddingRatio } from './tensor-batcher';
export type { TensorBatchLimits } from './tensor-batcher';
