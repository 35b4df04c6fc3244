import { createDataset, type Dataset } from '@ddpm/data';

/**
 * The first `limit` images of `dataset` (all of them when it has fewer), sharing its buffers. A developer aid: it makes
 * epochs short, so tests of resume and elastic sharding cross epoch boundaries in a few steps. The name records the
 * limit, and the fingerprint of the result differs from the full dataset's, so coordinator and workers must agree.
 */
export function limitDataset(dataset: Dataset, limit: number | undefined): Dataset {
  if (limit === undefined || limit >= dataset.count) return dataset;
  if (!Number.isInteger(limit) || limit < 1)
    throw new RangeError(`limitDataset: limit must be a positive integer, got ${limit}.`);
  const size = dataset.height * dataset.width * dataset.channels;
  return createDataset({
    name: `${dataset.name}[0:${limit}]`,
    count: limit,
    height: dataset.height,
    width: dataset.width,
    channels: dataset.channels,
    images: dataset.images.subarray(0, limit * size),
    labels: dataset.labels?.subarray(0, limit),
  });
}
