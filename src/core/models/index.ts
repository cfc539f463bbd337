export {
  BackendUnavailableError,
  TF_BACKEND_CHOICES,
  currentTfBackend,
  initTfBackend,
  type TfBackendChoice,
  type TfBackendName,
} from './backend';
export {
  BUNDLED_MODELS_DIR,
  DEFAULT_LOADERS,
  ModelRegistry,
  type ModelLoader,
  type ModelRegistryOptions,
  type RegistryProblem,
} from './registry';
export { fileSaveHandler, loadLayersModelFromDir } from './io/tfjs-files';
export * from './types';
