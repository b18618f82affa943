import { BadRequestException, Logger, NotFoundException, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parse as parseQueryString } from 'node:querystring';
import type { Readable } from 'node:stream';
import type { Registry } from 'prom-client';
import { sendError } from '../errors/http-error.filter';
import { requestDurationHistogram } from '../metrics/http-metrics';
import { METRICS_REGISTRY } from '../metrics/metrics';
import { type CorsSettings, corsPolicy } from './cors';
import { type HttpAppOptions, DEFAULT_BODY_LIMIT_BYTES, finishHttpApp } from './http-app';
import { readJsonBody } from './json-body';

export interface FastifyHttpAppOptions extends HttpAppOptions {
  /** Browser origins allowed to call the service (SYNC_CORS_ORIGINS); default none. */
  cors?: CorsSettings;
  /**
   * Adds the service's own hooks, after the platform's (metrics, CORS): `onRequest` hooks run
   * before the body is read (e.g. path and admission checks, early auth).
   */
  beforeBody?: (fastify: FastifyInstance) => void;
  /**
   * The service's check of a request by its method and path (throws to refuse it), also run for
   * the URLs Fastify's router cannot decode, which no hook sees.
   */
  refuseUrl?: (request: FastifyRequest) => void;
}

/** The path of a request target, without its query. */
export function pathOf(url: string): string {
  const query = url.indexOf('?');
  return query === -1 ? url : url.slice(0, query);
}

/** A route's path as Express matches it: case-insensitive, a trailing slash allowed. */
function routePattern(url: string): RegExp {
  const segments = url
    .split('/')
    .map((segment) =>
      segment.startsWith(':') ? '[^/]+' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'),
    );
  return new RegExp(`^${segments.join('/')}/?$`, 'i');
}

const isUndecodable = (segment: string): boolean => {
  try {
    decodeURIComponent(segment);
    return false;
  } catch {
    return true;
  }
};

/**
 * Express's router's answer to a URL that is not valid percent-encoding: when it has a route,
 * whatever the method, 400 INVALID_PARAMETER naming the first such segment (only a parameter can
 * hold one: Express decodes parameters in path order); else 404.
 */
function undecodableUrl(url: string, routes: readonly RegExp[]): Error {
  const segments = pathOf(url).split('/');
  const placed = segments.map((segment) => (isUndecodable(segment) ? '_' : segment)).join('/');
  if (!routes.some((route) => route.test(placed))) return new NotFoundException();
  const segment = segments.find(isUndecodable) ?? '';
  return new BadRequestException(`Failed to decode param '${segment}'`);
}

interface RoutedRequest extends FastifyRequest {
  /** The request passed its hooks and body parsing: its route's handler runs. */
  syncRouted: boolean;
}

/**
 * createHttpApp on Nest's Fastify adapter, for the services whose per-request cost matters: the
 * same routes, answers, error bodies, body rules, CORS, metrics, OpenAPI and shutdown, with
 * Fastify's router and hooks in place of Express's router and middleware chain. Every
 * Fastify-specific piece of the platform is here, but for the early-auth hook (auth-early.middleware.ts).
 */
export async function createFastifyHttpApp(
  module: Type<unknown>,
  options: FastifyHttpAppOptions,
): Promise<NestFastifyApplication> {
  const bodyLimit = options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES;
  const logger = new Logger(options.name);
  const cors = corsPolicy(options.cors ?? { origins: [] });
  /** Adds the CORS headers; true when the request was a preflight, now answered. */
  const answerCors = (request: FastifyRequest, reply: FastifyReply): boolean => {
    if (cors === undefined) return false;
    reply.header('Vary', 'Origin');
    const answer = cors(request.method, request.headers);
    for (const [name, value] of answer.headers) reply.header(name, value);
    if (answer.preflight) reply.code(204).send();
    return answer.preflight;
  };
  /** The paths of every route, for the answer to a URL the router cannot decode. */
  const routes: RegExp[] = [];
  const adapter: FastifyAdapter = new FastifyAdapter({
    // Express's routing: case-insensitive, a trailing slash allowed, no bound on a parameter
    // beyond the URL's (Node's header size). Express's "simple" query parser (Node's
    // querystring): Fastify's own keeps a value that is not UTF-8 (%ff) undecoded and takes
    // more than 1000 parameters, which the query's 400s would show.
    routerOptions: {
      caseSensitive: false,
      ignoreTrailingSlash: true,
      maxParamLength: 16 * 1024,
      querystringParser: (query: string) => parseQueryString(query),
    },
    // Node's defaults, which the Express platform keeps (Fastify's own are 72 s and none).
    keepAliveTimeout: 5000,
    requestTimeout: 300_000,
    // Requests arriving while the app closes are served, as on Express, not refused with 503.
    return503OnClosing: false,
    // No Nest middleware runs on Fastify (the platform's and the services' steps are hooks):
    // without middie, no request passes through its empty middleware chain.
    skipMiddie: true,
    bodyLimit,
    // A URL whose route parameter the router cannot decode (e.g. /libraries/%ff/records)
    // reaches no hook: it gets the service's refusal by path, else Express's router's answer.
    frameworkErrors: (error: Error, request: FastifyRequest, reply: FastifyReply) => {
      if (answerCors(request, reply)) return;
      let refusal: unknown =
        (error as { code?: string }).code === 'FST_ERR_BAD_URL'
          ? undecodableUrl(request.url, routes)
          : new NotFoundException();
      try {
        options.refuseUrl?.(request);
      } catch (error) {
        refusal = error;
      }
      sendError(adapter, reply, refusal, logger);
    },
  });
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, {
    bodyParser: false,
    bufferLogs: true,
  });
  app.useLogger(logger);
  const fastify = app.getHttpAdapter().getInstance();
  // Nest adds its routes on init, after this. Static files (a wildcard route) are served by a
  // middleware on Express, which answers 404 to what it cannot decode.
  fastify.addHook('onRoute', (route) => {
    if (!route.url.endsWith('*')) routes.push(routePattern(route.url));
  });
  observeRequestDurations(fastify, app.get<Registry>(METRICS_REGISTRY));
  // First after the metrics: preflights carry no key and no body, and every answer (errors
  // too) needs the headers.
  if (cors !== undefined) {
    fastify.addHook('onRequest', (request, reply, done) => {
      if (!answerCors(request, reply)) done();
    });
  }
  options.beforeBody?.(fastify);
  // One parser for every content type: bodies must be JSON (415 otherwise), read and parsed with
  // the Express platform's rules; errors go through Nest's error handler to HttpErrorFilter.
  fastify.removeAllContentTypeParsers();
  fastify.addContentTypeParser('*', (request: FastifyRequest, payload: Readable) =>
    readJsonBody(request.method, request.headers, payload, bodyLimit),
  );
  finishHttpApp(app, options);
  return app;
}

/**
 * The request latency histogram of http-metrics.ts, recorded by hooks. The time is Fastify's
 * own (`reply.elapsedTime`: from before the first `onRequest` hook to the response's end).
 */
function observeRequestDurations(fastify: FastifyInstance, registry: Registry): void {
  const duration = requestDurationHistogram(registry);
  fastify.decorateRequest('syncRouted', false);
  fastify.addHook('preHandler', (request, _reply, done) => {
    (request as RoutedRequest).syncRouted = true;
    done();
  });
  // The status is final only once the response is sent (the error filter may still set it).
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions.url;
    // Static files (Swagger UI's assets, a wildcard route) are no route of the service's, as on
    // Express where they are served by a middleware.
    if ((request as RoutedRequest).syncRouted && route !== undefined && !route.endsWith('*')) {
      duration.observe(
        { method: request.method, route, status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    }
    done();
  });
}
