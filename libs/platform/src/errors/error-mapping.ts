import { HttpException, HttpStatus } from '@nestjs/common';
import { SyncError } from './sync-error';

/** Errors raised by body-parser before a route runs carry a `type`. */
interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

/** Maps anything thrown while serving a request to a SyncError: the one place that decides codes. */
export function toSyncError(error: unknown): SyncError {
  if (error instanceof SyncError) return error;
  const parserError = error as BodyParserError;
  switch (parserError?.type) {
    case 'entity.parse.failed':
      return new SyncError('INVALID_JSON', 'request body is not valid JSON');
    case 'entity.too.large':
      return new SyncError(
        'PAYLOAD_TOO_LARGE',
        `request body exceeds the limit of ${parserError.limit ?? '?'} bytes`,
      );
    case 'encoding.unsupported':
    case 'charset.unsupported':
      return new SyncError('UNSUPPORTED_MEDIA_TYPE', 'request body must be UTF-8 JSON');
    case 'request.aborted':
    case 'request.size.invalid':
    case 'stream.encoding.set':
      return new SyncError('INVALID_JSON', 'request body could not be read');
  }
  // Other body-reading failures (e.g. a gzip body that does not inflate) come as http-errors
  // with a 4xx status and no type.
  const status = (error as { status?: unknown })?.status;
  if (
    !(error instanceof HttpException) &&
    typeof status === 'number' &&
    status >= 400 &&
    status < 500 &&
    (error as { expose?: unknown }).expose === true
  ) {
    if (status === 413) return new SyncError('PAYLOAD_TOO_LARGE', 'request body is too large');
    if (status === 415) {
      return new SyncError('UNSUPPORTED_MEDIA_TYPE', 'request body encoding is not supported');
    }
    return new SyncError('INVALID_JSON', 'request body could not be read as JSON');
  }
  if (error instanceof HttpException) {
    const status: number = error.getStatus();
    if (status === (HttpStatus.NOT_FOUND as number))
      return new SyncError('NOT_FOUND', 'no such route');
    if (status === (HttpStatus.PAYLOAD_TOO_LARGE as number)) {
      return new SyncError('PAYLOAD_TOO_LARGE', error.message);
    }
    if (status === (HttpStatus.UNSUPPORTED_MEDIA_TYPE as number)) {
      return new SyncError('UNSUPPORTED_MEDIA_TYPE', error.message);
    }
    if (status >= 400 && status < 500) return new SyncError('INVALID_PARAMETER', error.message);
  }
  return new SyncError('INTERNAL_ERROR', 'internal error');
}
