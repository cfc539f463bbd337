import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The process's Prometheus registry and the metrics every part shares. Each process (API,
 * worker) exposes its own registry on /metrics.
 */
export const registry = new Registry();
collectDefaultMetrics({ register: registry });

// prom-client also exports `nodejs_active_{handles,requests,resources}_total`, gauges whose `_total` suffix
// `promtool check metrics` refuses (it means a counter; issue 17). Their values are the sums of the
// per-type gauges `nodejs_active_handles{type}` etc., which stay: `sum(nodejs_active_handles)`.
for (const name of [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
])
  registry.removeSingleMetric(name);

export const httpRequestDuration = new Histogram({
  name: 'docbatch_http_request_duration_seconds',
  help: 'HTTP request duration by method, route and status code',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
  registers: [registry],
});

export const httpRequestsTotal = new Counter({
  name: 'docbatch_http_requests_total',
  help: 'HTTP requests by method, route and status code',
  labelNames: ['method', 'route', 'status_code'] as const,
  registers: [registry],
});
