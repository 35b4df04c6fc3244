import type { IncomingMessage, ServerResponse } from 'node:http';

export const LIMITS: { readonly lossPoints: number; readonly samples: number; readonly evaluations: number };

export type RunPageHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  live: unknown,
) => Promise<boolean>;

export function createRoutes(data: { runDirectory: string }): RunPageHandler;
