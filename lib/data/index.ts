export { parseIdx, readIdxFile, type IdxArray } from './idx';
export {
  loadDataset,
  gatherBatch,
  mnistPaths,
  NUM_CLASSES,
  MNIST_MEAN,
  MNIST_STD,
  type Dataset,
  type DatasetSource,
  type IdxPaths,
  type Split,
} from './dataset';
export {
  splitRange,
  peerPartition,
  shardRange,
  stepsPerEpoch,
  batchIndices,
  mulberry32,
  type Range,
} from './partition';
