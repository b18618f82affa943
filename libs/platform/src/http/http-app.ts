import { type INestApplication, Logger, type Type } from '@nestjs/common';
import { isUtf8 } from 'node:buffer';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import type { Registry } from 'prom-client';
import express, {
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import { HttpErrorFilter, sendError } from '../errors/http-error.filter';
import { SyncError } from '../errors/sync-error';
import { httpMetricsHandler } from '../metrics/http-metrics';
import { METRICS_REGISTRY } from '../metrics/metrics';
import { type CorsSettings, corsHandler } from './cors';

export interface HttpAppOptions {
  /** Service name, used in logs and the OpenAPI title. */
  name: string;
  description: string;
  /** Maximum JSON body size in bytes. */
  bodyLimitBytes?: number;
  /** Express handlers run before the content-type check and body parsing (e.g. path checks). */
  beforeBody?: RequestHandler[];
  /** Browser origins allowed to call the service (SYNC_CORS_ORIGINS); default none. */
  cors?: CorsSettings;
}

/**
 * Creates a Nest HTTP app with the shared conventions: JSON bodies only, contract error
 * bodies (including body-parser failures, which happen before Nest routes run), request
 * latency metrics (the module must import MetricsModule), OpenAPI at /docs and /docs-json,
 * and graceful shutdown.
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
  // First: preflights carry no key and no body, and every answer (errors too) needs the headers.
  app.use(corsHandler(options.cors ?? { origins: [] }));
  for (const handler of options.beforeBody ?? []) app.use(handler);
  app.use(requireJsonForBodies());
  app.use(
    express.json({
      limit: options.bodyLimitBytes ?? 1024 * 1024,
      strict: false,
      // The parser would replace invalid UTF-8 with U+FFFD and silently change the data.
      verify: (_req, _res, body) => {
        if (!isUtf8(body)) {
          throw Object.assign(new Error('request body is not valid UTF-8'), {
            type: 'entity.parse.failed',
            status: 400,
            expose: true,
          });
        }
      },
    }),
  );
  app.use((error: unknown, _req: Request, res: Response, _next: NextFunction) =>
    sendError(res, error, logger),
  );
  app.useGlobalFilters(new HttpErrorFilter());
  app.enableShutdownHooks();
  setupOpenApi(app, options);
  return app;
}

/** Requests that carry a body must declare it as JSON; anything else is refused before parsing. */
function requireJsonForBodies() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const hasBody =
      req.headers['transfer-encoding'] !== undefined ||
      (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
    if (!hasBody || ['GET', 'HEAD', 'OPTIONS'].includes(req.method)) return next();
    if (!req.is('application/json') && !req.is('application/*+json')) {
      return next(
        new SyncError(
          'UNSUPPORTED_MEDIA_TYPE',
          `content type must be application/json, got ${req.headers['content-type'] ?? 'none'}`,
        ),
      );
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
