import { SyncError } from '@sync/platform';
import { normalizeUuid } from '@sync/protocol';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { AdmissionControl } from './admission-control.service';
import type { IngestMetrics } from './ingest.metrics';

const OPERATIONS_PATH = /^\/libraries\/([^/]*)\/operations\/?$/;

/**
 * Runs before the body is parsed, for POST /libraries/{libraryId}/operations:
 * - rejects a bad library id first, whatever the body (INVALID_LIBRARY_ID);
 * - counts and times every answer by result, including the ones given before the controller
 *   (INVALID_JSON, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE from body parsing, OVERLOADED
 *   before it).
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

/**
 * Before the body is read, for POST /libraries/{libraryId}/operations: a request that admission
 * control could not take now (its Content-Length counts as bytes, its ops are not known yet) is
 * refused at once with 429 OVERLOADED, so the excess costs no parsing. The service checks again
 * with the ops once the body is parsed.
 */
export function admissionBeforeBody(admission: () => AdmissionControl | undefined): RequestHandler {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const control = admission();
    if (control === undefined || req.method !== 'POST' || !OPERATIONS_PATH.test(req.path)) {
      return next();
    }
    const length = Number(req.headers['content-length']);
    try {
      control.precheck(Number.isSafeInteger(length) && length > 0 ? length : 0);
    } catch (error) {
      return next(error);
    }
    next();
  };
}

function countResult(res: Response, metrics: () => IngestMetrics | undefined): void {
  const started = process.hrtime.bigint();
  const json = res.json.bind(res);
  res.json = (body?: unknown) => {
    const code = (body as { error?: unknown } | undefined)?.error;
    const result = res.statusCode < 300 ? 'accepted' : typeof code === 'string' ? code : 'error';
    metrics()?.request(result, Number(process.hrtime.bigint() - started) / 1e9);
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
