import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { isApiErrorCode, TERMINAL_BATCH_STATUSES } from '../../src/sdk';

/**
 * The SDK's wire types are generated from the OpenAPI document (scripts/sdk-types.js); these tests
 * fail when the committed src/sdk/openapi-types.ts no longer matches the document, so the SDK
 * cannot drift from the contract. `npm run sdk:types` regenerates it.
 */

// eslint-disable-next-line @typescript-eslint/no-require-imports
const generator = require('../../scripts/sdk-types.js') as {
  render(spec?: unknown): Promise<string>;
  generate(spec: unknown): string;
  OUT: string;
  SPEC: string;
};

const ROOT = path.resolve(__dirname, '../..');

interface Spec {
  components: { schemas: Record<string, { enum?: string[] }> };
}
const spec = JSON.parse(readFileSync(generator.SPEC, 'utf8')) as Spec;

describe('SDK types and the OpenAPI document', () => {
  it('src/sdk/openapi-types.ts is exactly what the document generates (run `npm run sdk:types`)', () => {
    expect(path.relative(ROOT, generator.OUT)).toBe('src/sdk/openapi-types.ts');
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

  it('generates unions, nullable types, refs, consts and records from JSON Schema', () => {
    const out = generator.generate({
      openapi: '3.1.0',
      info: { version: 'x' },
      components: {
        schemas: {
          Color: { enum: ['red', 'blue'] },
          Thing: {
            type: 'object',
            required: ['kind', 'color', 'tags'],
            description: 'A thing.',
            properties: {
              kind: { const: 'thing' },
              color: { $ref: '#/components/schemas/Color' },
              tags: { type: 'array', items: { type: 'string' } },
              score: { type: ['number', 'null'] },
              extra: { type: 'object', additionalProperties: { type: 'integer' } },
              either: { oneOf: [{ type: 'string' }, { type: 'null' }] },
            },
          },
        },
      },
    });
    expect(out).toContain("export type Color = 'red' | 'blue';".replace(/'/g, '"'));
    expect(out).toContain('/** A thing. */\nexport interface Thing {');
    expect(out).toContain('  kind: "thing";');
    expect(out).toContain('  color: Color;');
    expect(out).toContain('  tags: string[];');
    expect(out).toContain('  score?: number | null;');
    expect(out).toContain('  extra?: Record<string, number>;');
    expect(out).toContain('  either?: string | null;');
  });
});
