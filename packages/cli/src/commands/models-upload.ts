import { stat } from 'node:fs/promises';
import type { CliContext } from '../cli-context';
import { clientFor, log, out } from '../cli-context';
import { UsageError } from '../usage-error';

/**
 * `docbatch models upload DIR [--name NAME]`: uploads the model in DIR (config.json plus the files
 * it names; every file under DIR, names starting with `.` left out) as a new version of one of the
 * tenant's models. `docbatch models delete NAME@VERSION`: deletes one of the tenant's versions.
 */

export async function modelsUpload(ctx: CliContext, dir: string | undefined, name?: string): Promise<number> {
  if (!dir) throw new UsageError('models upload needs a DIR (the directory that holds config.json)');
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) {
    log(ctx, `cannot read ${dir}: not a directory`);
    return 1;
  }
  const client = clientFor(ctx);
  const model = await client.uploadModel(dir, name !== undefined ? { name } : {});
  if (ctx.json) out(ctx, JSON.stringify(model));
  else
    out(
      ctx,
      `uploaded ${model.id} (${model.task}, ${model.bytes ?? 0} bytes); use it with --model ${model.id}`,
    );
  return 0;
}

export async function modelsDelete(ctx: CliContext, id: string | undefined): Promise<number> {
  if (!id) throw new UsageError('models delete needs NAME@VERSION');
  const deleted = await clientFor(ctx).deleteModel(id);
  if (ctx.json) out(ctx, JSON.stringify(deleted));
  else out(ctx, `deleted ${deleted.id}`);
  return 0;
}
