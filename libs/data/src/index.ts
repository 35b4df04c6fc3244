export { createDataset, gatherBatch, gatherBatchTensor, type Dataset } from './dataset.ts';
export { readIdx, IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, type IdxArray } from './idx.ts';
export { bundledMnistDir, isMnistDir, loadMnist, type LoadMnistOptions, type MnistSplit } from './mnist.ts';
export { decodePng, listPngFiles, loadImageFolder, type ImageFolderOptions } from './image-folder.ts';
export { resizeDataset, MAX_IMAGE_SIZE } from './resize.ts';
export { loadDataset, type LoadDatasetOptions } from './load-dataset.ts';
export { epochPermutation, epochSeed, shardEpoch, shardSize, splitGlobalBatch, type ShardOptions } from './sharding.ts';
export {
  EpochCursor,
  type CursorBatch,
  type EpochCursorOptions,
  type EpochCursorState,
  type EpochTail,
} from './epoch-cursor.ts';
export { encodeImageGrid, gridSize, writeImageGrid, type ImageGridOptions } from './png-grid.ts';
export { datasetFingerprint } from './fingerprint.ts';
