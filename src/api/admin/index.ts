/**
 * The ops dashboard: batch views and bull-board at /admin, behind ADMIN_TOKEN. See
 * docs/operations.md.
 */
export { adminRouter } from './admin-router';
export type { AdminDeps } from './admin-router';
export { AdminSessions, SESSION_COOKIE, SESSION_TTL_SECONDS } from './admin-session';
