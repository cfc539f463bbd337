/**
 * Memory of the JSON form under concurrent large bodies (issue 16, item 7): N clients (default 12) each send one
 * `POST /v1/batches` JSON body of about M MB (default 62, the red team's figures) at once. Measured twice in one
 * run, each against a fresh API child process: with the default `JSON_BODY_MEMORY_BYTES` (128 MiB: bodies are
 * read only while the budget allows, see src/api/memory-budget.ts) and, as the baseline, with the budget set
 * so high that every body is read at once (what the API did before the budget). Prints the API's RSS peak
 * (sampled from /proc every 100 ms) against its RSS at rest, `/healthz` p95 during the bodies, and the
 * statuses.
 *
 *   node scripts/run-ts.js bench/json-memory.ts [--bodies 12] [--mb 62]
 *
 * No worker runs; the batches are created (201) and left queued, and the tables are emptied between the runs.
 */
import { createTenantWithKey } from '../src/core/tenants';
import { figure, flag, isMain, mb, rssOf, rssSampler, runMain, scratch, spawnDocbatch } from './scratch';
import type { Figure, Scratch } from './scratch';

export interface JsonMemoryOptions {
  bodies: number;
  mb: number;
}

const percentile = (sorted: number[], q: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;

const DOC_CHARS = 10_000;

/** One JSON body of about `mbytes` MB: documents of 10,000 characters, distinct per body. */
function jsonBody(k: number, mbytes: number): string {
  const n = Math.max(1, Math.round((mbytes * 1024 * 1024) / (DOC_CHARS + 40)));
  const filler = 'lorem ipsum dolor sit amet '.repeat(Math.ceil(DOC_CHARS / 27)).slice(0, DOC_CHARS - 24);
  const documents = Array.from({ length: n }, (_, i) => ({
    id: `b${k}-${i}`,
    text: `body ${k} doc ${i} ${filler}`,
  }));
  return JSON.stringify({ task: 'classification', documents });
}

interface Run {
  idle: number;
  peak: number;
  healthzP95: number;
  statuses: number[];
  seconds: number;
}

async function runOnce(s: Scratch, bodies: string[], extra: Record<string, string>): Promise<Run> {
  const api = await spawnDocbatch('api', {
    DATABASE_URL: s.url,
    REDIS_URL: s.redisUrl,
    QUEUE_PREFIX: s.prefix,
    MAX_ACTIVE_BATCHES: '100000',
    ...extra,
  });
  try {
    const pid = api.child.pid as number;
    const keys = await Promise.all(
      bodies.map((_, i) => createTenantWithKey(s.db, `json-${Object.keys(extra).length}-${i}-${Date.now()}`)),
    );
    // Let the process settle (first requests compile routes lazily), then take its RSS at rest.
    for (let i = 0; i < 20; i += 1) await fetch(`${api.url}/healthz`).then((r) => r.arrayBuffer());
    const idle = rssOf(pid);
    const sampler = rssSampler(pid, 100);
    let done = false;
    const t0 = Date.now();
    const sends = Promise.all(
      bodies.map((b, i) =>
        fetch(`${api.url}/v1/batches`, {
          method: 'POST',
          headers: { authorization: `Bearer ${keys[i]!.api_key}`, 'content-type': 'application/json' },
          body: b,
        }).then(async (r) => {
          await r.arrayBuffer();
          return r.status;
        }),
      ),
    ).finally(() => (done = true));
    const healthz: number[] = [];
    while (!done) {
      const t = performance.now();
      await fetch(`${api.url}/healthz`).then((r) => r.arrayBuffer());
      healthz.push(performance.now() - t);
      await new Promise((r) => setTimeout(r, 20));
    }
    const statuses = await sends;
    const seconds = (Date.now() - t0) / 1000;
    const samples = sampler.stop();
    healthz.sort((a, b) => a - b);
    return {
      idle,
      peak: Math.max(...samples.map(([, v]) => v)),
      healthzP95: percentile(healthz, 0.95),
      statuses,
      seconds,
    };
  } finally {
    await api.stop();
    await s.db.pool.query('TRUNCATE documents, batches CASCADE');
  }
}

export async function runJsonMemory(opts: JsonMemoryOptions): Promise<Figure[]> {
  const s = await scratch();
  try {
    const bodies = Array.from({ length: opts.bodies }, (_, k) => jsonBody(k, opts.mb));
    const sizeMb = Math.round(bodies.reduce((n, b) => n + Buffer.byteLength(b), 0) / 1024 / 1024);
    // Baseline first: every body read at once (a budget above the sum of the bodies).
    const unbounded = await runOnce(s, bodies, { JSON_BODY_MEMORY_BYTES: String(8 * 1024 ** 3) });
    const bounded = await runOnce(s, bodies, {});
    const note = (r: Run): string =>
      `${opts.bodies} bodies of ~${opts.mb} MB (${sizeMb} MB in all) at once: statuses ${[...new Set(r.statuses)].join('/')} in ${r.seconds.toFixed(1)} s; /healthz p95 ${r.healthzP95.toFixed(0)} ms`;
    return [
      figure(
        'json-memory',
        'API RSS peak, concurrent JSON bodies, JSON_BODY_MEMORY_BYTES unbounded (before the budget)',
        mb(unbounded.peak),
        'MB',
        { name: 'API RSS at rest', value: mb(unbounded.idle) },
        note(unbounded),
      ),
      figure(
        'json-memory',
        'API RSS peak, concurrent JSON bodies, default JSON_BODY_MEMORY_BYTES (128 MiB)',
        mb(bounded.peak),
        'MB',
        { name: 'RSS peak unbounded', value: mb(unbounded.peak) },
        note(bounded),
      ),
    ];
  } finally {
    await s.close();
  }
}

if (isMain(__filename)) {
  runMain(async () => {
    const out = await runJsonMemory({ bodies: flag('bodies', 12), mb: flag('mb', 62) });
    for (const f of out)
      console.log(
        `${f.name}: ${f.value} ${f.unit}${f.ratio !== undefined ? ` (ratio ${f.ratio} vs ${f.baseline?.name} ${f.baseline?.value} ${f.unit})` : ''}${f.note ? ` [${f.note}]` : ''}`,
      );
  });
}
