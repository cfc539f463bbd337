import { modelErrorCode } from '../models/model-errors';
import type { EncodedDocument, TaskModel, TaskOptions, TaskResult } from '../models/types';
import { docError, documentRunError, modelRunError } from './inference-errors';
import type { DocError } from './inference-protocol';

/**
 * Runs one tensor batch and tells a document's fault from the model's (docs/pipeline.md,
 * "Guarantees"). When `runBatch` throws:
 *
 * - a **ModelError** (the model layer says the model cannot run) fails the model at once: the
 *   verdict is `modelError` with its code, nothing is split;
 * - any other error splits the tensor batch in halves until the culprits run alone. A document
 *   that fails alone with a **DocumentInputError** fails with that error. A document that fails
 *   alone with any other error is a *suspect*: the model failed on it.
 * - Verdict on the suspects: while the model has produced **no result** (in this tensor batch, nor
 *   since it loaded in this thread: `proven`), suspects mean the model cannot run: `modelError`
 *   `MODEL_INCOMPATIBLE` with the first cause, as soon as two documents failed alone without any
 *   success (or the only document of a one-document tensor batch failed), else when the split
 *   ends without a success. Once the model has produced a result, it does run, and each suspect
 *   fails on its own (`MODEL_INCOMPATIBLE`, "failed on this document"); the batch goes on.
 *
 * A model that fails on every document therefore fails its batch after a handful of `runBatch`
 * calls (the batch, halves down to the first document, the second one), not one call per document.
 */

export type Outcome = { result: TaskResult } | { error: DocError };

/** One result or error per document, in order; or the model failed (the batch fails). */
export type SafeRun = { results: Outcome[] } | { modelError: DocError };

/** Thrown inside the split to stop it with a verdict on the model. */
class ModelVerdict {
  constructor(readonly error: DocError) {}
}

export async function runSafe(
  model: TaskModel,
  docs: EncodedDocument[],
  options: TaskOptions,
  /** The model has produced results before (since it loaded): its failures are per document. */
  proven: boolean,
  /** Seconds spent in `runBatch` calls are added here. */
  timing: { seconds: number } = { seconds: 0 },
): Promise<SafeRun> {
  const id = model.info.id;
  let succeeded = 0;
  let suspects = 0;
  let firstCause: unknown;
  const guilty = (): boolean => !proven && succeeded === 0 && suspects > 0;

  const attempt = async (part: EncodedDocument[]): Promise<Outcome[]> => {
    const started = process.hrtime.bigint();
    let results: TaskResult[] | undefined;
    let failure: unknown;
    try {
      results = await model.runBatch(part, options);
      if (results.length !== part.length) {
        throw new Error(`${id} returned ${results.length} results for ${part.length} documents`);
      }
    } catch (err) {
      failure = err;
      results = undefined;
    } finally {
      timing.seconds += Number(process.hrtime.bigint() - started) / 1e9;
    }
    if (results) {
      succeeded += part.length;
      return results.map((result) => ({ result }));
    }
    if (modelErrorCode(failure)) throw new ModelVerdict(modelRunError(id, failure));
    if (part.length === 1) {
      const de = docError(failure);
      if (de) return [{ error: de }];
      suspects++;
      firstCause ??= failure;
      if (guilty() && suspects >= Math.min(2, docs.length))
        throw new ModelVerdict(modelRunError(id, firstCause));
      return [{ error: documentRunError(id, failure) }];
    }
    const mid = part.length >> 1;
    const left = await attempt(part.slice(0, mid));
    const right = await attempt(part.slice(mid));
    return [...left, ...right];
  };

  try {
    const results = await attempt(docs);
    if (guilty()) return { modelError: modelRunError(id, firstCause) };
    return { results };
  } catch (err) {
    if (err instanceof ModelVerdict) return { modelError: err.error };
    throw err;
  }
}
