import { type ArgumentsHost, Catch, type ExceptionFilter, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { toSyncError } from './error-mapping';

/** The single place where errors become HTTP answers with the contract body. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpErrorFilter');

  catch(exception: unknown, host: ArgumentsHost): void {
    const response = host.switchToHttp().getResponse<Response>();
    sendError(response, exception, this.logger);
  }
}

export function sendError(response: Response, exception: unknown, logger: Logger): void {
  const error = toSyncError(exception);
  if (error.status >= 500 && error.code === 'INTERNAL_ERROR') {
    logger.error(exception instanceof Error ? (exception.stack ?? exception.message) : exception);
  }
  if (response.headersSent) return;
  for (const [name, value] of Object.entries(error.headers ?? {})) response.setHeader(name, value);
  response.status(error.status).json(error.toBody());
}
