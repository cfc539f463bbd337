import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Router } from 'express';

/** The OpenAPI 3.1 document kept in the repository (`openapi/openapi.json`). */
export const OPENAPI_PATH = path.resolve(__dirname, '..', '..', '..', 'openapi', 'openapi.json');

export function loadOpenApiDocument(file = OPENAPI_PATH): Record<string, unknown> {
  return JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
}

/** `GET /openapi.json`: no API key, like the ops routes. */
export function openApiRouter(): Router {
  const body = JSON.stringify(loadOpenApiDocument());
  const router = Router();
  router.get('/openapi.json', (_req, res) => {
    res.type('application/json').set('Cache-Control', 'public, max-age=300').send(body);
  });
  return router;
}
