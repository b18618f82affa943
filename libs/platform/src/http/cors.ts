import type { NextFunction, Request, RequestHandler, Response } from 'express';
import type { EnvReader } from '@sync/config';

export const CORS_ORIGINS_VAR = 'SYNC_CORS_ORIGINS';

/** Web origins allowed to call the service from a browser; empty = no CORS headers at all. */
export interface CorsSettings {
  origins: string[];
}

/** What a browser client sends and reads: JSON bodies, API keys, SSE resume, backoff hints. */
const ALLOWED_METHODS = 'GET, HEAD, POST';
const ALLOWED_HEADERS = 'Authorization, Content-Type, Last-Event-ID';
const EXPOSED_HEADERS = 'Retry-After';
/** How long a browser may reuse a preflight answer. */
const PREFLIGHT_MAX_AGE_S = 600;

/**
 * SYNC_CORS_ORIGINS: comma-separated origins (`scheme://host[:port]`, nothing after it), none by
 * default. Only exact origins: a wildcard would let any page spend a user's key.
 */
export function readCorsSettings(reader: EnvReader): CorsSettings {
  const raw = reader.optionalString(CORS_ORIGINS_VAR);
  if (raw === undefined) return { origins: [] };
  const entries = raw
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean);
  const bad = entries.filter((entry) => !isOrigin(entry));
  if (bad.length > 0) {
    reader.problem(
      `${CORS_ORIGINS_VAR}: expected http(s) origins like https://app.example.com, got ${bad
        .map((entry) => JSON.stringify(entry))
        .join(', ')}`,
    );
    return { origins: [] };
  }
  return { origins: [...new Set(entries)] };
}

function isOrigin(entry: string): boolean {
  try {
    const url = new URL(entry);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.origin === entry;
  } catch {
    return false;
  }
}

/**
 * Adds CORS headers for allowed origins and answers their preflights (204) before auth and body
 * parsing run, since a preflight carries neither a key nor a body. Other origins get no CORS
 * headers, so the browser keeps the answer from the page.
 */
export function corsHandler(settings: CorsSettings): RequestHandler {
  const allowed = new Set(settings.origins);
  return (req: Request, res: Response, next: NextFunction): void => {
    if (allowed.size === 0) return next();
    res.vary('Origin');
    const origin = req.headers.origin;
    const preflight =
      req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    const ok = origin !== undefined && allowed.has(origin);
    if (ok) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Expose-Headers', EXPOSED_HEADERS);
    }
    if (!preflight) return next();
    if (ok) {
      res.setHeader('Access-Control-Allow-Methods', ALLOWED_METHODS);
      res.setHeader('Access-Control-Allow-Headers', ALLOWED_HEADERS);
      res.setHeader('Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_S));
    }
    res.status(204).end();
  };
}
