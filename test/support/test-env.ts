/** Where the integration tests' databases live. TEST_DATABASE_URL points at the server (any database). */
export const TEMPLATE_ENV = 'DOCBATCH_TEST_TEMPLATE';

const base = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';

/** URL of `dbName` on the test server. */
export function testBaseUrl(dbName: string): string {
  const u = new URL(base);
  u.pathname = `/${dbName}`;
  return u.toString();
}

/** Maintenance database URL. */
export function adminUrl(): string {
  return testBaseUrl('postgres');
}

export const TEST_REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
