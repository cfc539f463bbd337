/**
 * Escaping for server-rendered HTML. Every interpolation into {@link html} is escaped unless it is
 * itself a {@link SafeHtml} produced by `html` (or, for trusted constant markup only, {@link raw}).
 * Batch metadata, client ids, tenant names and error messages are user-provided: they only ever
 * reach a page through this function.
 */

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for an HTML text node or a quoted attribute value. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

/** Markup that is already safe to write as is. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type Interpolation = SafeHtml | string | number | boolean | null | undefined | readonly Interpolation[];

function render(v: Interpolation): string {
  if (v instanceof SafeHtml) return v.value;
  if (Array.isArray(v)) return v.map((x: Interpolation) => render(x)).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(v);
}

/** Tagged template: literal parts are markup, interpolated values are escaped (arrays are joined). */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** Trusted constant markup (never user input). */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}
