export {
  RECIPES,
  EMBEDDINGS,
  hyperparametersSchema,
  checkTrainingRequest,
  parseHyperparameters,
  InvalidHyperparametersError,
  type Recipe,
  type Hyperparameters,
  type HyperparametersInput,
  type TrainingFieldError,
  type TrainingRequestCheck,
} from './hyperparameters';
export {
  trainTextClassifier,
  type TrainingExample,
  type TrainingProgress,
  type TrainTextClassifierInput,
  type TrainTextClassifierResult,
  type TrainingMetrics,
  type LabelMetrics,
} from './train-text-classifier';
export { TrainingDataError, TrainingCancelledError } from './training-errors';
export { NaiveBayes } from './naive-bayes';
