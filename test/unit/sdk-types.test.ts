import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isApiErrorCode, TERMINAL_BATCH_STATUSES } from '@docbatch/sdk';
import type {
  Batch,
  CreateBatchRequest,
  OpenAiCreateBatchRequest,
} from '../../packages/sdk/src/openapi-types';

/**
 * The SDK's wire types are generated from the OpenAPI document by openapi-typescript
 * (scripts/sdk-types.js); these tests fail when the committed packages/sdk/src/openapi-types.ts no longer matches the document, so the SDK
 * cannot drift from the contract. `npm run sdk:types` regenerates it.
 */

// eslint-disable-next-line @typescript-eslint/no-require-imports
const generator = require('../../scripts/sdk-types.js') as {
  render(spec?: unknown): Promise<string>;
  OUT: string;
  SPEC: string;
};

const ROOT = path.resolve(__dirname, '../..');

/** `generate(spec)` in a plain node process (openapi-typescript loads ES modules, which jest's VM cannot). */
function generateInNode(spec: unknown): string {
  const res = spawnSync(
    process.execPath,
    [
      '-e',
      `require('./scripts/sdk-types.js').generate(JSON.parse(require('fs').readFileSync(0, 'utf8'))).then((t) => process.stdout.write(t))`,
    ],
    { cwd: ROOT, input: JSON.stringify(spec), encoding: 'utf8' },
  );
  expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: '' });
  return res.stdout;
}

/** `true` when every key K of T is optional. */
type IsOptional<T, K extends keyof T> = Partial<Pick<T, K>> extends Pick<T, K> ? true : false;
/** `true` when A and B are the same type. */
type Equals<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

interface Spec {
  components: { schemas: Record<string, { enum?: string[] }> };
}
const spec = JSON.parse(readFileSync(generator.SPEC, 'utf8')) as Spec;

describe('SDK types and the OpenAPI document', () => {
  it('packages/sdk/src/openapi-types.ts is exactly what the document generates (run `npm run sdk:types`)', () => {
    expect(path.relative(ROOT, generator.OUT)).toBe('packages/sdk/src/openapi-types.ts');
    // Prettier (used to format the output) needs real dynamic import, which jest's VM lacks: run the
    // generator's own check in a plain node process.
    const res = spawnSync(process.execPath, ['scripts/sdk-types.js', '--check'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect({ status: res.status, stderr: res.stderr }).toEqual({ status: 0, stderr: '' });
  });

  it('every schema of the document has its type', () => {
    const source = readFileSync(generator.OUT, 'utf8');
    for (const name of Object.keys(spec.components.schemas)) {
      expect(source).toMatch(new RegExp(`export (interface|type) ${name}\\b`));
    }
  });

  it('the SDK knows exactly the contract error codes', () => {
    const codes = spec.components.schemas.ErrorCode?.enum ?? [];
    expect(codes.length).toBeGreaterThan(10);
    for (const code of codes) expect([code, isApiErrorCode(code)]).toEqual([code, true]);
    expect(isApiErrorCode('NOT_A_CODE')).toBe(false);
  });

  it('terminal batch statuses are batch statuses', () => {
    const statuses = spec.components.schemas.BatchStatus?.enum ?? [];
    for (const s of TERMINAL_BATCH_STATUSES) expect(statuses).toContain(s);
  });

  it('openapi-typescript keeps properties that are not required optional, also with a default', () => {
    const out = generateInNode({
      openapi: '3.1.0',
      info: { title: 't', version: 'x' },
      paths: {},
      components: {
        schemas: {
          Color: { type: 'string', enum: ['red', 'blue'] },
          Thing: {
            type: 'object',
            required: ['color', 'size'],
            properties: {
              color: { $ref: '#/components/schemas/Color' },
              size: { type: 'integer', default: 1 },
              priority: { type: 'integer', default: 5 },
              score: { type: ['number', 'null'] },
            },
          },
        },
      },
    });
    expect(out).toMatch(/\bcolor: components\["schemas"\]\["Color"\];/);
    expect(out).toMatch(/\bsize: number;/);
    expect(out).toMatch(/\bpriority\?: number;/);
    expect(out).toMatch(/\bscore\?: number \| null;/);
    expect(out).toMatch(/export type Color = components\[["']schemas["']\]\[["']Color["']\];/);
    expect(out).toMatch(/export type Thing = components\[["']schemas["']\]\[["']Thing["']\];/);
  });

  it('the committed types: optional request fields are optional, task is the union of the task names', () => {
    // Checked by the type checker (npm test runs tsc over the tests): each line fails to compile
    // when the generated type differs.
    const checks: [
      IsOptional<CreateBatchRequest, 'priority'>,
      IsOptional<CreateBatchRequest, 'completion_window'>,
      IsOptional<CreateBatchRequest, 'model'>,
      IsOptional<CreateBatchRequest, 'webhook_url'>,
      IsOptional<OpenAiCreateBatchRequest, 'priority'>,
      IsOptional<CreateBatchRequest, 'task'>,
      Equals<CreateBatchRequest['task'], 'classification' | 'summarization' | 'translation'>,
      Equals<Batch['task'], CreateBatchRequest['task']>,
    ] = [true, true, true, true, true, false, true, true];
    expect(checks).toEqual([true, true, true, true, true, false, true, true]);
    const tasks = (spec.components.schemas.Task?.enum ?? []).slice().sort();
    expect(tasks).toEqual(['classification', 'summarization', 'translation']);
  });
});
