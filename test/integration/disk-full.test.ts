import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmdirSync } from 'node:fs';
import { startApi } from './api-harness';
import type { ApiHarness } from './api-harness';

/**
 * Issue 16, item 5: Postgres runs out of disk space during an upload. The test database's `documents`
 * partitions are moved to a tablespace on a 24 MiB tmpfs (real Postgres, real disk-full error 53100), then a
 * 40 MB upload is sent: the client gets 503 UNAVAILABLE with Retry-After, nothing is stored, /readyz
 * says why; once space is back (the table moved back), the same upload succeeds and /readyz is 200.
 * Needs root (mount) and a local Postgres superuser, as on this project's machines and CI.
 */

jest.setTimeout(120_000);

const canMount = process.getuid?.() === 0;
const suffix = randomBytes(4).toString('hex');
const dir = `/tmp/docbatch-diskfull-${suffix}`;
const tablespace = `docbatch_full_${suffix}`;
let h: ApiHarness;
let mounted = false;

beforeAll(async () => {
  h = await startApi();
  if (!canMount) return;
  mkdirSync(dir, { recursive: true });
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', dir]);
  mounted = true;
  execFileSync('chown', ['postgres:postgres', dir]);
  await h.db.pool.query(`CREATE TABLESPACE ${tablespace} LOCATION '${dir}'`);
});

afterAll(async () => {
  if (h) {
    await moveDocuments('pg_default').catch(() => undefined);
    await h.db.pool.query(`DROP TABLESPACE IF EXISTS ${tablespace}`).catch(() => undefined);
    await h.stop();
  }
  if (mounted) execFileSync('umount', ['-l', dir]);
  if (canMount) rmdirSync(dir, { recursive: true } as never);
});

/** Moves every partition of `documents` (hash-partitioned) to `space`. */
async function moveDocuments(space: string): Promise<void> {
  const parts = await h.db.pool.query<{ name: string }>(
    `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
      WHERE i.inhparent = 'documents'::regclass`,
  );
  for (const p of parts.rows) await h.db.pool.query(`ALTER TABLE "${p.name}" SET TABLESPACE ${space}`);
}

const upload = (): Promise<Response> => {
  // Random text (incompressible): 4,000 documents of 10 KB, 40 MB in all.
  const lines = Array.from({ length: 4000 }, (_, i) =>
    JSON.stringify({ id: `d${i}`, text: randomBytes(7500).toString('base64') }),
  );
  return h.request('/v1/batches?task=classification', {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: lines.join('\n') + '\n',
  });
};

(canMount ? it : it.skip)(
  'a full disk is a 503 with Retry-After, nothing stored, /readyz says so; then it recovers',
  async () => {
    await moveDocuments(tablespace);
    const before = (await h.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM documents')).rows[0]!
      .n;
    const res = await upload();
    const text = await res.text();
    expect({ status: res.status, body: text.slice(0, 300) }).toMatchObject({ status: 503 });
    expect(JSON.parse(text)).toMatchObject({
      error: { code: 'UNAVAILABLE', message: expect.stringMatching(/disk space/) },
    });
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(
      (await h.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM documents')).rows[0]!.n,
    ).toBe(before);
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(503);
    expect(JSON.stringify(await ready.json())).toMatch(/disk space/);

    // Space is back: the same upload goes through, and readiness with it.
    await moveDocuments('pg_default');
    const again = await upload();
    expect({ status: again.status, body: (await again.text()).slice(0, 300) }).toMatchObject({ status: 201 });
    expect((await fetch(`${h.url}/readyz`)).status).toBe(200);
  },
);
