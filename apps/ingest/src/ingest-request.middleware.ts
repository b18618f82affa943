import { SyncError } from '@sync/platform';
import { normalizeUuid } from '@sync/protocol';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { IngestMetrics } from './ingest.metrics';

const OPERATIONS_PATH = /^\/libraries\/([^/]*)\/operations\/?$/;

/**
 * Runs before the body is parsed, for POST /libraries/{libraryId}/operations:
 * - rejects a bad library id first, whatever the body (INVALID_LIBRARY_ID);
 * - counts every answer by result, including the ones body parsing gives (INVALID_JSON,
 *   PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE), which never reach the controller.
 */
export function ingestRequestHandler(metrics: () => IngestMetrics | undefined): RequestHandler {
  return (req: Request, res: Response, next: NextFunction): void => {
    const match = req.method === 'POST' ? OPERATIONS_PATH.exec(req.path) : null;
    if (match === null) return next();
    countResult(res, metrics);
    const libraryId = decodeSegment(match[1]);
    if (normalizeUuid(libraryId) === null) {
      return next(
        new SyncError('INVALID_LIBRARY_ID', `library id must be a UUID, got "${libraryId}"`),
      );
    }
    next();
  };
}

function countResult(res: Response, metrics: () => IngestMetrics | undefined): void {
  const json = res.json.bind(res);
  res.json = (body?: unknown) => {
    const code = (body as { error?: unknown } | undefined)?.error;
    const result = res.statusCode < 300 ? 'accepted' : typeof code === 'string' ? code : 'error';
    metrics()?.request(result);
    return json(body);
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
