import { SyncError, pathOf } from '@sync/platform';
import { normalizeUuid } from '@sync/protocol';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { AdmissionControl } from './admission-control.service';
import type { IngestMetrics } from './ingest.metrics';

const OPERATIONS_PATH = /^\/libraries\/([^/]*)\/operations\/?$/;

interface CountedRequest extends FastifyRequest {
  /** When a POST of operations began (process.hrtime.bigint()); 0 for other requests. */
  ingestStarted: bigint;
}

function isPublish(request: FastifyRequest): RegExpExecArray | null {
  return request.method === 'POST' ? OPERATIONS_PATH.exec(pathOf(request.url)) : null;
}

/**
 * For POST /libraries/{libraryId}/operations: starts counting the request, then rejects a bad
 * library id, whatever the body (400 INVALID_LIBRARY_ID).
 */
export function checkPublishPath(request: FastifyRequest): void {
  const match = isPublish(request);
  if (match === null) return;
  (request as CountedRequest).ingestStarted = process.hrtime.bigint();
  const libraryId = decodeSegment(match[1]);
  if (normalizeUuid(libraryId) === null) {
    throw new SyncError('INVALID_LIBRARY_ID', `library id must be a UUID, got "${libraryId}"`);
  }
}

/**
 * Hooks run before the body is parsed, for POST /libraries/{libraryId}/operations:
 * - rejects a bad library id first, whatever the body (INVALID_LIBRARY_ID);
 * - counts and times every answer by result, including the ones given before the controller
 *   (INVALID_JSON, PAYLOAD_TOO_LARGE, UNSUPPORTED_MEDIA_TYPE from body parsing, OVERLOADED
 *   before it): the answer's body, before it is serialized, names the result.
 */
export function countAndCheckPublishes(
  fastify: FastifyInstance,
  metrics: () => IngestMetrics | undefined,
): void {
  fastify.decorateRequest('ingestStarted', BigInt(0));
  fastify.addHook('onRequest', (request, _reply, done) => {
    try {
      checkPublishPath(request);
    } catch (error) {
      return done(error as Error);
    }
    done();
  });
  fastify.addHook('preSerialization', (request, reply, body: unknown, done) => {
    const started = (request as CountedRequest).ingestStarted;
    if (started !== BigInt(0)) {
      const code = (body as { error?: unknown } | null)?.error;
      const result =
        reply.statusCode < 300 ? 'accepted' : typeof code === 'string' ? code : 'error';
      metrics()?.request(result, Number(process.hrtime.bigint() - started) / 1e9);
    }
    done(null, body);
  });
}

/**
 * Before the body is read, for POST /libraries/{libraryId}/operations: a request that admission
 * control could not take now (its Content-Length counts as bytes, its ops are not known yet) is
 * refused at once with 429 OVERLOADED, so the excess costs no parsing. The service checks again
 * with the ops once the body is parsed.
 */
export function admissionBeforeBody(
  admission: () => AdmissionControl | undefined,
): onRequestHookHandler {
  return (request, _reply, done) => {
    const control = admission();
    if (control === undefined || isPublish(request) === null) return done();
    const length = Number(request.headers['content-length']);
    try {
      control.precheck(Number.isSafeInteger(length) && length > 0 ? length : 0);
    } catch (error) {
      return done(error as Error);
    }
    done();
  };
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
