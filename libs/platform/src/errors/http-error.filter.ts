import {
  type ArgumentsHost,
  Catch,
  type ExceptionFilter,
  type HttpServer,
  Logger,
} from '@nestjs/common';
import { toSyncError } from './error-mapping';

/**
 * The single place where errors become HTTP answers with the contract body, on either HTTP
 * platform: the answer goes through Nest's adapter (Express or Fastify).
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');

  constructor(private readonly http: HttpServer) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    sendError(this.http, host.switchToHttp().getResponse(), exception, this.logger);
  }
}

export function sendError(
  http: HttpServer,
  response: unknown,
  exception: unknown,
  logger: Logger,
): void {
  const error = toSyncError(exception);
  if (error.status >= 500 && error.code === 'INTERNAL_ERROR') {
    logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : exception);
  }
  if (http.isHeadersSent(response)) return;
  for (const [name, value] of Object.entries(error.headers ?? {})) {
    http.setHeader(response, name, value);
  }
  http.reply(response, error.toBody(), error.status);
}
