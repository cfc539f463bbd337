import type { Usage } from '@docbatch/sdk';
import type { CliContext } from '../cli-context';
import { clientFor, log, out } from '../cli-context';
import { formatCount, table } from '../format';
import { UsageError } from '../usage-error';

const GROUPS = ['day', 'task', 'model'] as const;
type Group = (typeof GROUPS)[number];

/**
 * `docbatch usage [--start D] [--end D] [--group-by day,task,model]`: the tenant's usage
 * (`GET /v1/usage`) as a table, one row per bucket and a total (`--json`: the usage object).
 */
export async function usage(
  ctx: CliContext,
  args: { start?: string; end?: string; groupBy?: string },
): Promise<number> {
  for (const [name, v] of [
    ['--start', args.start],
    ['--end', args.end],
  ] as const) {
    if (v !== undefined && !/^\d{4}-\d{2}-\d{2}$/.test(v))
      throw new UsageError(`${name} must be a date YYYY-MM-DD`);
  }
  let groupBy: Group[] | undefined;
  if (args.groupBy !== undefined) {
    groupBy = args.groupBy === '' ? [] : (args.groupBy.split(',').map((s) => s.trim()) as Group[]);
    const bad = groupBy.filter((g) => !GROUPS.includes(g));
    if (bad.length > 0) {
      throw new UsageError(`unknown --group-by ${JSON.stringify(bad[0])} (expected ${GROUPS.join(', ')})`);
    }
  }
  const report = await clientFor(ctx).getUsage({ start: args.start, end: args.end, group_by: groupBy });
  if (ctx.json) {
    out(ctx, JSON.stringify(report));
    return 0;
  }
  log(ctx, `usage ${report.start} .. ${report.end} (UTC)`);
  out(ctx, usageTable(report));
  return 0;
}

/** The report as a text table with a TOTAL row. */
export function usageTable(report: Usage): string {
  const keys = report.group_by;
  const header = [
    ...keys.map((k) => k.toUpperCase()),
    'BATCHES',
    'SUBMITTED',
    'COMPLETED',
    'FAILED',
    'CHARACTERS',
    'TOKENS',
  ];
  const numbers = (c: Usage['totals']): string[] => [
    formatCount(c.batches),
    formatCount(c.documents_submitted),
    formatCount(c.documents_completed),
    formatCount(c.documents_failed),
    formatCount(c.input_characters),
    formatCount(c.input_tokens),
  ];
  const rows = report.data.map((b) => [...keys.map((k) => String(b[k] ?? '')), ...numbers(b)]);
  rows.push([...keys.map((_, i) => (i === 0 ? 'TOTAL' : '')), ...numbers(report.totals)]);
  if (keys.length === 0) rows[rows.length - 1] = numbers(report.totals);
  return table(header, rows);
}
