import { type INestApplication, Logger, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Registry } from 'prom-client';
import express, { type NextFunction, type Request, type Response } from 'express';
import { HttpErrorFilter, sendError } from '../errors/http-error.filter';
import { httpMetricsHandler } from '../metrics/http-metrics';
import { METRICS_REGISTRY } from '../metrics/metrics';
import { declaresBody, requireJsonBody, requireUtf8 } from './json-body';

export interface HttpAppOptions {
  /** Service name, used in logs and the OpenAPI title. */
  name: string;
  description: string;
  /** Maximum JSON body size in bytes. */
  bodyLimitBytes?: number;
}

export const DEFAULT_BODY_LIMIT_BYTES = 1024 * 1024;

/**
 * Creates a Nest HTTP app on Express with the shared conventions: JSON bodies only, contract
 * error bodies (including body-parser failures, which happen before Nest routes run), request
 * latency metrics (the module must import MetricsModule), OpenAPI at /docs and /docs-json,
 * and graceful shutdown. Only the projector (health and metrics) runs on it; the services
 * clients call run on createFastifyHttpApp (fastify-http-app.ts), which also answers CORS.
 */
export async function createHttpApp(
  module: Type<unknown>,
  options: HttpAppOptions,
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(module, {
    bodyParser: false,
    bufferLogs: true,
  });
  const logger = new Logger(options.name);
  app.useLogger(logger);
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  app.use(httpMetricsHandler(app.get<Registry>(METRICS_REGISTRY)));
  app.use(requireJsonForBodies());
  app.use(
    express.json({
      limit: options.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES,
      strict: false,
      verify: (_req, _res, body) => requireUtf8(body),
    }),
  );
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) =>
    sendError(app.getHttpAdapter(), res, error, logger),
  );
  finishHttpApp(app, options);
  return app;
}

/** What both platforms share once their request pipeline is set: errors, shutdown, OpenAPI. */
export function finishHttpApp(app: INestApplication, options: HttpAppOptions): void {
  app.useGlobalFilters(new HttpErrorFilter(app.getHttpAdapter()));
  app.enableShutdownHooks();
  setupOpenApi(app, options);
}

/** Requests that carry a body must declare it as JSON; anything else is refused before parsing. */
function requireJsonForBodies() {
  return (req: Request, _res: Response, next: NextFunction): void => {
    if (!declaresBody(req.headers) || ['GET', 'HEAD', 'OPTIONS'].includes(req.method)) {
      return next();
    }
    try {
      requireJsonBody(req.headers['content-type']);
    } catch (error) {
      return next(error);
    }
    next();
  };
}

function setupOpenApi(app: INestApplication, options: HttpAppOptions): void {
  const config = new DocumentBuilder()
    .setTitle(`sync ${options.name}`)
    .setDescription(options.description)
    .setVersion('1.0')
    .build();
  const document = SwaggerModule.createDocument(app, config);
  SwaggerModule.setup('docs', app, document, { jsonDocumentUrl: 'docs-json' });
}

/** Listens and prints where; returns the bound port (useful with port 0 in tests). */
export async function listen(
  app: INestApplication,
  port: number,
  host = '0.0.0.0',
): Promise<number> {
  await app.listen(port, host);
  const server = app.getHttpServer() as import('node:http').Server;
  const address = server.address();
  const bound = typeof address === 'object' && address ? address.port : port;
  new Logger('http').log(`listening on http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${bound}`);
  return bound;
}
