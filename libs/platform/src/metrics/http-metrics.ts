import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { Histogram, type Registry } from 'prom-client';

/**
 * Request latency per route template (not per URL, so label cardinality stays bounded), from
 * the first byte of handling to the last byte sent, for every request that reached its route
 * (refusals by the guard included; refusals before the body is parsed are not). Recorded by
 * plain handlers or hooks rather than a Nest interceptor: an interceptor wraps every request in
 * an Observable chain and an async resource.
 */
export function requestDurationHistogram(
  registry: Registry,
): Histogram<'method' | 'route' | 'status'> {
  return new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by route',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
}

/** The request latency metric as an Express handler, first in the chain. */
export function httpMetricsHandler(registry: Registry): RequestHandler {
  const duration = requestDurationHistogram(registry);
  return (req: Request, res: Response, next: NextFunction): void => {
    const started = process.hrtime.bigint();
    // The status is final only once the response is sent (the error filter may still set it).
    res.once('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path;
      if (route === undefined) return;
      duration.observe(
        { method: req.method, route, status: String(res.statusCode) },
        Number(process.hrtime.bigint() - started) / 1e9,
      );
    });
    next();
  };
}
