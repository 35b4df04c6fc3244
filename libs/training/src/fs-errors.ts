import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** The system error codes {@link explainFsError} turns into a message with the path and the fix. */
export const EXPLAINED_FS_CODES = ['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'ENOTDIR', 'ENOENT'] as const;

/** An error whose message says what failed, on which path, and how to fix it; `exitCode` is the process status. */
export class FsFailure extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly exitCode: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'FsFailure';
  }
}

/** What {@link explainFsError} knows beyond the error itself. */
export interface FsErrorContext {
  /** The file or directory being written (system errors from a write on a descriptor carry no path). */
  readonly path?: string;
  /** What was being done, e.g. "writing the checkpoint". */
  readonly doing?: string;
  /** The flag that chose the location (default --out). */
  readonly flag?: string;
  /** Appended to the message, e.g. which checkpoint is the last good one. */
  readonly extra?: string;
  /** The exit status (default 1; 2 when the flag itself names an unusable place, found before any work). */
  readonly exitCode?: number;
}

/** True for a Node.js system error (it has a string `code`). */
export function isSystemError(error: unknown): error is NodeJS.ErrnoException {
  return error instanceof Error && typeof (error as NodeJS.ErrnoException).code === 'string';
}

/**
 * Turns ENOSPC, EDQUOT, EROFS, EACCES/EPERM, ENOTDIR and ENOENT-from-mkdir into an {@link FsFailure} naming the path
 * and the fix; any other error is returned unchanged. An ENOENT from mkdir is traced to its real cause: the nearest
 * existing ancestor is on a read-only filesystem, not writable, or a file. An error with no known path is returned
 * unchanged.
 */
export function explainFsError(error: unknown, context: FsErrorContext = {}): unknown {
  if (!isSystemError(error) || error instanceof FsFailure) return error;
  const given = error.path ?? context.path;
  if (given === undefined) return error;
  const path = resolve(given);
  const flag = context.flag ?? '--out';
  const doing = context.doing ?? (error.syscall === 'mkdir' ? 'creating' : 'writing');
  let code = error.code ?? '';
  let where = path;
  if (code === 'ENOENT' && error.syscall !== 'mkdir') return error;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    const blocker = nearestExisting(path);
    if (blocker !== undefined && !blocker.directory) code = 'ENOTDIR';
    else if (blocker !== undefined) code = writeProblem(blocker.path) ?? code;
    if (blocker !== undefined) where = blocker.path;
    if (code === 'ENOENT') return error;
  } else if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
    where = nearestExisting(path)?.path ?? path;
  }
  const text = messageFor(code, { path, where, doing, flag });
  if (text === undefined) return error;
  const extra = context.extra === undefined ? '' : ` ${context.extra}`;
  return new FsFailure(`${text}${extra}`, code, context.exitCode ?? 1, { cause: error });
}

function messageFor(
  code: string,
  at: { path: string; where: string; doing: string; flag: string },
): string | undefined {
  const { path, where, doing, flag } = at;
  switch (code) {
    case 'ENOSPC':
    case 'EDQUOT':
      return `No space left on the device (${code}) ${doing} ${path}. Free space on that filesystem (df -h ${dirname(path)}), or pass ${flag} on one with room.`;
    case 'EROFS':
      return `${where} is on a read-only filesystem (EROFS), so ${doing} ${path} failed. Pass ${flag} on a writable filesystem, or remount it read-write.`;
    case 'EACCES':
    case 'EPERM':
      return `Permission denied (${code}) ${doing} ${path}: user ${process.getuid?.() ?? '?'} may not write ${where}. Pass ${flag} in a directory this user can write, or change its owner or mode (chown, chmod).`;
    case 'ENOTDIR':
      return `${where} is a file, not a directory (ENOTDIR), so ${doing} ${path} failed. Pass ${flag} naming a directory, or move that file away.`;
    default:
      return undefined;
  }
}

/** The nearest existing ancestor of `path` (itself included) and whether it is a directory. */
function nearestExisting(path: string): { path: string; directory: boolean } | undefined {
  for (let at = path; ; at = dirname(at)) {
    try {
      return { path: at, directory: statSync(at).isDirectory() };
    } catch {
      if (dirname(at) === at) return undefined;
    }
  }
}

/** Why `dir` is not writable (EROFS, EACCES), or undefined when it is. */
function writeProblem(dir: string): string | undefined {
  try {
    accessSync(dir, constants.W_OK);
    return undefined;
  } catch (error) {
    return isSystemError(error) ? error.code : undefined;
  }
}
