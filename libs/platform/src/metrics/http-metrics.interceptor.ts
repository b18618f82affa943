import {
  type CallHandler,
  type ExecutionContext,
  Inject,
  Injectable,
  type NestInterceptor,
} from '@nestjs/common';
import type { Request, Response } from 'express';
import { Histogram, type Registry } from 'prom-client';
import type { Observable } from 'rxjs';
import { METRICS_REGISTRY } from './metrics';

/** Request latency per route template (not per URL, so label cardinality stays bounded). */
@Injectable()
export class HttpMetricsInterceptor implements NestInterceptor {
  private readonly duration: Histogram<'method' | 'route' | 'status'>;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry) {
    this.duration = new Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request latency by route',
      labelNames: ['method', 'route', 'status'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    });
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    const stop = this.duration.startTimer();
    const route = (request.route as { path?: string } | undefined)?.path ?? 'unknown';
    // The status is final only once the response is sent (the error filter may still set it).
    response.once('finish', () =>
      stop({ method: request.method, route, status: String(response.statusCode) }),
    );
    return next.handle();
  }
}
