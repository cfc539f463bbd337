import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { initTfBackend, TF_BACKEND_CHOICES } from '../../core/models/backend';
import type { TfBackendChoice } from '../../core/models/backend';
import { ModelRegistry } from '../../core/models/registry';
import type { RegistryProblem } from '../../core/models/registry';
import type { ModelInfo } from '../../core/models/types';
import { InputError, log, out, UsageError } from '@docbatch/cli';
import type { CliContext } from '@docbatch/cli';

/**
 * `docbatch models check [DIR]`: reads a model repository the way the API and the workers do,
 * opens and checks every model's files (the same checks: tokenizer, input length and dtype,
 * vocabulary vs embedding, output vs labels, one probe document), and prints each model with
 * its verdict. Runs locally, without a server.
 *
 * DIR is a repository (`<DIR>/<name>/<version>/config.json`) or one model version directory
 * (`<DIR>/config.json`); without DIR, the bundled models and `MODELS_DIR`. Exit 0 when every
 * model passes, 1 when any entry is refused.
 */
export async function modelsCheck(ctx: CliContext, dir: string | undefined): Promise<number> {
  let repo: string | undefined;
  let only: { name: string; version: number } | undefined;
  if (dir !== undefined) {
    const abs = path.resolve(dir);
    // A missing DIR fails the check (exit 1), like a missing input file of submit.
    if (!existsSync(abs) || !statSync(abs).isDirectory())
      throw new InputError(`cannot read ${dir}: not a directory`);
    if (existsSync(path.join(abs, 'config.json'))) {
      const version = Number(path.basename(abs));
      if (!Number.isInteger(version) || version < 1) {
        throw new UsageError(
          `${dir} has a config.json but is not a <name>/<version> directory (e.g. my-model/1)`,
        );
      }
      repo = path.dirname(path.dirname(abs));
      only = { name: path.basename(path.dirname(abs)), version };
    } else {
      repo = abs;
    }
  }
  const choice = (ctx.env.TF_BACKEND || 'auto') as TfBackendChoice;
  if (!(TF_BACKEND_CHOICES as readonly string[]).includes(choice)) {
    throw new UsageError(`TF_BACKEND must be one of ${TF_BACKEND_CHOICES.join(', ')}`);
  }
  const backend = await initTfBackend(choice);
  const registry = new ModelRegistry(
    repo !== undefined
      ? { modelsDir: repo, bundledDir: null }
      : ctx.env.MODELS_DIR
        ? { modelsDir: ctx.env.MODELS_DIR }
        : {},
  );
  const inScope = (p: { id?: string; dir: string }): boolean =>
    !only || p.dir === path.join(repo!, only.name, String(only.version));
  const problems = (await registry.problems()).filter(inScope);
  const served = (await registry.list()).filter(inScope);
  await registry.disposeAll();

  if (ctx.json) {
    out(
      ctx,
      JSON.stringify({
        backend,
        ok: problems.length === 0,
        models: served.map((m) => summary(m)),
        problems: problems.map((p) => ({
          ...(p.id ? { id: p.id } : {}),
          dir: p.dir,
          code: p.code ?? 'INVALID_CONFIG',
          ...(p.file ? { file: p.file } : {}),
          ...(p.field ? { field: p.field } : {}),
          message: p.message,
        })),
      }),
    );
  } else {
    for (const m of served) {
      const s = summary(m);
      out(ctx, `ok    ${s.id}  ${s.task}  ${s.runtime}${s.labels ? `  labels ${s.labels.join(',')}` : ''}`);
    }
    for (const p of problems) out(ctx, `FAIL  ${describe(p)}`);
    if (served.length === 0 && problems.length === 0) log(ctx, 'no models found');
    log(
      ctx,
      `${served.length} model(s) ok, ${problems.length} refused (backend ${backend})` +
        (problems.length ? '; refused models are not served' : ''),
    );
  }
  return problems.length === 0 ? 0 : 1;
}

function summary(m: ModelInfo): { id: string; task: string; runtime: string; labels?: string[] } {
  return { id: m.id, task: m.task, runtime: m.runtime ?? '', ...(m.labels ? { labels: m.labels } : {}) };
}

function describe(p: RegistryProblem): string {
  const where = p.id ?? p.dir;
  const code = p.code ?? 'INVALID_CONFIG';
  return `${where}  ${code}  ${p.message}\n      in ${p.dir}`;
}
