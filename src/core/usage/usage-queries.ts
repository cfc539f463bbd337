import type { Queryable } from '../db/queryable';
import { AppError } from '../errors';

/** Reads of `usage_daily`: a tenant's own usage (`GET /v1/usage`) and the operators' view across tenants. */

export const USAGE_GROUPS = ['day', 'task', 'model'] as const;
export type UsageGroup = (typeof USAGE_GROUPS)[number];

/** Longest range of one query, days. */
export const MAX_USAGE_DAYS = 366;
/** Most buckets one answer holds (narrow the range or group by less beyond it). */
export const MAX_USAGE_BUCKETS = 10_000;

export interface UsageCounters {
  /** Batches created. */
  batches: number;
  /** Documents in the batches created. */
  documents_submitted: number;
  /** Documents the model processed with a result. */
  documents_completed: number;
  /** Documents the model processed that got a per-document error. */
  documents_failed: number;
  /** Unicode code points of the processed documents' texts. */
  input_characters: number;
  /** Input tokens of the processed documents (the model's encoded length, after truncation). */
  input_tokens: number;
}

export type UsageBucket = UsageCounters & {
  day?: string;
  task?: string;
  model?: string;
  tenant?: { id: string; name: string };
};

export interface UsageReport {
  object: 'usage';
  /** First UTC day, inclusive (YYYY-MM-DD). */
  start: string;
  /** Last UTC day, inclusive. */
  end: string;
  group_by: UsageGroup[];
  data: UsageBucket[];
  totals: UsageCounters;
}

export interface UsageQuery {
  start: string;
  end: string;
  groupBy: UsageGroup[];
}

const DAY = /^(\d{4})-(\d{2})-(\d{2})$/;

function parseDay(v: string, field: string): Date {
  const m = DAY.exec(v);
  const d = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (!m || !d || d.toISOString().slice(0, 10) !== v || Number(m[1]) < 2000 || Number(m[1]) > 9999) {
    throw new AppError('INVALID_REQUEST', `${field} must be a UTC date YYYY-MM-DD.`, [
      { field, message: 'must be a date YYYY-MM-DD' },
    ]);
  }
  return d;
}

const iso = (d: Date): string => d.toISOString().slice(0, 10);

/**
 * Checks the query parameters of a usage request: `start` and `end` (UTC days, inclusive; default:
 * the 30 days up to today), `group_by` (comma-separated `day`, `task`, `model`; default `day,model`;
 * empty: one bucket per range).
 */
export function parseUsageQuery(
  p: { start?: string; end?: string; group_by?: string },
  now: Date = new Date(),
): UsageQuery {
  const end = p.end !== undefined ? parseDay(p.end, 'end') : parseDay(iso(now), 'end');
  const start =
    p.start !== undefined ? parseDay(p.start, 'start') : new Date(end.getTime() - 29 * 86_400_000);
  if (start.getTime() > end.getTime()) {
    throw new AppError('INVALID_REQUEST', 'start must not be after end.', [
      { field: 'start', message: 'must not be after end' },
    ]);
  }
  if ((end.getTime() - start.getTime()) / 86_400_000 + 1 > MAX_USAGE_DAYS) {
    throw new AppError('INVALID_REQUEST', `A usage range covers at most ${MAX_USAGE_DAYS} days.`, [
      { field: 'start', message: `at most ${MAX_USAGE_DAYS} days before end` },
    ]);
  }
  const raw = p.group_by ?? 'day,model';
  const groups = raw === '' ? [] : raw.split(',').map((s) => s.trim());
  for (const g of groups) {
    if (!(USAGE_GROUPS as readonly string[]).includes(g)) {
      throw new AppError('INVALID_REQUEST', `group_by takes ${USAGE_GROUPS.join(', ')} (comma-separated).`, [
        { field: 'group_by', message: `unknown group ${JSON.stringify(g)}` },
      ]);
    }
  }
  // A model belongs to one task: grouping by model groups by task too.
  const groupBy = USAGE_GROUPS.filter(
    (g) => groups.includes(g) || (g === 'task' && groups.includes('model')),
  );
  return { start: iso(start), end: iso(end), groupBy };
}

interface UsageRow {
  day?: string;
  task?: string;
  model?: string;
  tenant_id?: string;
  tenant_name?: string;
  batches: string;
  documents_submitted: string;
  documents_completed: string;
  documents_failed: string;
  input_characters: string;
  input_tokens: string;
}

const COUNTERS = [
  'batches',
  'documents_submitted',
  'documents_completed',
  'documents_failed',
  'input_characters',
  'input_tokens',
] as const;

function counters(r: UsageRow): UsageCounters {
  return Object.fromEntries(COUNTERS.map((c) => [c, Number(r[c])])) as unknown as UsageCounters;
}

/**
 * Usage over `query`'s days, in buckets of its groups: a tenant's own (`tenantId`), or every
 * tenant's with a `tenant` in each bucket (`perTenant`; `tenantId` then narrows to one tenant).
 * Buckets in day, tenant name, task, model order; `totals` over the whole range.
 */
export async function getUsage(
  q: Queryable,
  query: UsageQuery,
  scope: { tenantId?: string; perTenant?: boolean },
): Promise<UsageReport> {
  const cols: string[] = [];
  if (query.groupBy.includes('day')) cols.push(`to_char(u.day, 'YYYY-MM-DD') AS day`);
  if (scope.perTenant) cols.push('u.tenant_id', 't.name AS tenant_name');
  if (query.groupBy.includes('task')) cols.push('u.task');
  if (query.groupBy.includes('model')) cols.push('u.model');
  const groupCount = cols.length;
  const sums = COUNTERS.map((c) => `sum(u.${c})::text AS ${c}`).join(', ');
  const params: unknown[] = [query.start, query.end];
  let where = 'u.day BETWEEN $1::date AND $2::date';
  if (scope.tenantId !== undefined) {
    params.push(scope.tenantId);
    where += ` AND u.tenant_id = $${params.length}`;
  }
  const from = `usage_daily u${scope.perTenant ? ' JOIN tenants t ON t.id = u.tenant_id' : ''}`;
  const groupSql = groupCount > 0 ? `GROUP BY ${cols.map((_, i) => i + 1).join(', ')}` : '';
  const orderSql =
    groupCount > 0
      ? `ORDER BY ${[
          query.groupBy.includes('day') ? 'day' : null,
          scope.perTenant ? 'tenant_name' : null,
          query.groupBy.includes('task') ? 'task' : null,
          query.groupBy.includes('model') ? 'model' : null,
        ]
          .filter(Boolean)
          .join(', ')}`
      : '';
  params.push(MAX_USAGE_BUCKETS + 1);
  const res = await q.query<UsageRow>(
    `SELECT ${[...cols, sums].join(', ')} FROM ${from} WHERE ${where} ${groupSql} ${orderSql} LIMIT $${params.length}`,
    params,
  );
  if (res.rows.length > MAX_USAGE_BUCKETS) {
    throw new AppError(
      'INVALID_REQUEST',
      `More than ${MAX_USAGE_BUCKETS} usage buckets: narrow the range (start, end) or group by less (group_by).`,
    );
  }
  // Without groups, the aggregate over no rows is one row of NULLs.
  const rows = res.rows.filter((r) => r.batches !== null);
  const totals = Object.fromEntries(COUNTERS.map((c) => [c, 0])) as unknown as UsageCounters;
  const data = rows.map((r) => {
    const c = counters(r);
    for (const k of COUNTERS) totals[k] += c[k];
    const bucket: UsageBucket = {
      ...(r.day !== undefined ? { day: r.day } : {}),
      ...(scope.perTenant ? { tenant: { id: r.tenant_id as string, name: r.tenant_name as string } } : {}),
      ...(r.task !== undefined ? { task: r.task } : {}),
      ...(r.model !== undefined ? { model: r.model } : {}),
      ...c,
    };
    return bucket;
  });
  return { object: 'usage', start: query.start, end: query.end, group_by: query.groupBy, data, totals };
}
