import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { ModelInfo } from '../types';

/**
 * The raw `config.json` of a model: `info.config` when the registry supplied it, else read from
 * `info.dir` (for callers that build a ModelInfo by hand).
 */
export function modelConfig(info: ModelInfo): Readonly<Record<string, unknown>> {
  if (info.config) return info.config;
  return JSON.parse(readFileSync(path.join(info.dir, 'config.json'), 'utf8')) as Record<string, unknown>;
}
