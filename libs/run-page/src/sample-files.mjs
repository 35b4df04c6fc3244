// The sample grids of a run (OUT/samples/*.png) for the run page: which names may be served, newest first, and
// opening one without following a link out of the directory. Runs in the metrics HTTP thread (plain JavaScript).
import { constants } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** A servable grid name: a plain file name ending in .png; no separator, no leading dot, no "..". */
const SAMPLE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}\.png$/;

/** Whether `name` may be served from the samples directory (anything else answers 404 without touching the disk). */
export function isSampleName(name) {
  return typeof name === 'string' && SAMPLE_NAME.test(name) && !name.includes('..');
}

/** The step a grid was drawn at, from its name (step-000250.png -> 250); -1 when the name has no number. */
export function sampleStep(name) {
  const digits = /(\d+)\.png$/.exec(name);
  return digits === null ? -1 : Number(digits[1]);
}

/** `names` newest first: by the step in the name, then by name (descending). Does not change `names`. */
export function newestFirst(names) {
  return [...names].sort((a, b) => sampleStep(b) - sampleStep(a) || (a < b ? 1 : a > b ? -1 : 0));
}

/**
 * The servable grids in `directory`, newest first: `{ total, names }` with at most `limit` names ({ total: 0 } when
 * the directory does not exist yet).
 */
export async function listSamples(directory, limit) {
  let entries;
  try {
    entries = await readdir(directory, { withFileTypes: true });
  } catch (error) {
    if (error.code === 'ENOENT') return { total: 0, names: [] };
    throw error;
  }
  const names = entries.filter((entry) => entry.isFile() && isSampleName(entry.name)).map((entry) => entry.name);
  return { total: names.length, names: newestFirst(names).slice(0, limit) };
}

/**
 * Opens grid `name` in `directory` for reading: undefined when the name is not servable, the file is missing, or it
 * is a symbolic link (O_NOFOLLOW) or not a regular file. The caller closes the returned FileHandle.
 */
export async function openSample(directory, name) {
  if (!isSampleName(name)) return undefined;
  let handle;
  try {
    handle = await open(join(directory, name), constants.O_RDONLY | constants.O_NOFOLLOW);
  } catch (error) {
    if (error.code === 'ENOENT' || error.code === 'ELOOP' || error.code === 'EISDIR') return undefined;
    throw error;
  }
  const stats = await handle.stat();
  if (!stats.isFile()) {
    await handle.close();
    return undefined;
  }
  return { handle, size: stats.size };
}
