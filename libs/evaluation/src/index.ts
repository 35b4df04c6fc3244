export { featureStats, type FeatureStats } from './feature-stats.ts';
export { frechetDistance, frechetDistanceFromMoments, symmetricSquareRoot } from './frechet-distance.ts';
export { buildMnistClassifier, CLASS_COUNT, FEATURE_LAYER, FEATURE_UNITS } from './classifier-model.ts';
export {
  accuracy,
  splitHeldOut,
  trainMnistClassifier,
  type ClassifierTrainingOptions,
  type ClassifierTrainingResult,
} from './classifier-training.ts';
export { classifierScores, type ClassifierScores } from './classifier-scores.ts';
export {
  classifierExtractor,
  EXTRACT_BATCH,
  modelExtractor,
  type ExtractedFeatures,
  type FeatureExtractor,
  type ImageBatch,
} from './feature-extractor.ts';
export { loadTfjsModel, saveLayersModel, WEIGHTS_FILE, type TfjsModel } from './model-files.ts';
export { bundledClassifierPath, loadBundledClassifier } from './bundled-classifier.ts';
export {
  evaluationReport,
  realReference,
  realSetIndices,
  type EvaluationReport,
  type RealReference,
} from './evaluation-report.ts';
export { concatImages, cutImageGrid } from './grid-cutting.ts';
export { batchSeed, batchSizes, drawSamplesInBatches } from './batched-sampling.ts';
export { createEvaluator, isMnistShape, type Evaluator, type EvaluatorOptions } from './evaluator.ts';
export { EvalQueue, formatEvalLine, type EvalLine } from './eval-queue.ts';
export { EvalRunner, type EvalRunnerOptions } from './eval-runner.ts';
