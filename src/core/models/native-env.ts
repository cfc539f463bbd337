/**
 * Environment defaults for libtensorflow (the native backend), which reads them through getenv when
 * it loads. Only a process's main thread can set them: a worker thread's `process.env` is a copy of
 * its own. So the main thread applies them before it starts any inference thread (InferenceClient)
 * and when backend.ts loads there. An operator's own value always wins.
 *
 * No TensorFlow.js import here: the worker's main thread calls this without loading tfjs.
 */
export function applyNativeEnvDefaults(env: NodeJS.ProcessEnv = process.env): void {
  // TensorFlow's C++ INFO lines stay out of the logs; warnings and errors still reach stderr.
  env.TF_CPP_MIN_LOG_LEVEL ??= '1';
}
