import type { FileHandle } from 'node:fs/promises';

export function isSampleName(name: unknown): boolean;
export function sampleStep(name: string): number;
export function newestFirst(names: readonly string[]): string[];
export function listSamples(directory: string, limit: number): Promise<{ total: number; names: string[] }>;
export function openSample(directory: string, name: string): Promise<{ handle: FileHandle; size: number } | undefined>;
