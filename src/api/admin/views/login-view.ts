import { html } from './html';
import { ADMIN_BASE, layout } from './layout';

/** The login form. `next` is where to go after login (already checked to be under /admin). */
export function loginView(o: { next: string; error?: string }): string {
  return layout({
    title: 'Log in',
    page: 'login',
    body: html`<section class="login card">
      <h1>Operator login</h1>
      <p class="muted">Enter the admin token (<code>ADMIN_TOKEN</code> of the API process).</p>
      ${o.error ? html`<p class="error" role="alert">${o.error}</p>` : ''}
      <form method="post" action="${ADMIN_BASE}/login">
        <input type="hidden" name="next" value="${o.next}" />
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
        <button type="submit" class="primary">Log in</button>
      </form>
    </section>`,
  });
}

/** A plain message page (errors, disabled dashboard). */
export function messageView(o: { title: string; message: string; csrf?: string }): string {
  return layout({
    title: o.title,
    page: 'message',
    csrf: o.csrf,
    body: html`<section class="card">
      <h1>${o.title}</h1>
      <p>${o.message}</p>
      <p><a href="${ADMIN_BASE}">Back to batches</a></p>
    </section>`,
  });
}
