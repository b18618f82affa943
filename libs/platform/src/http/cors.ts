import type { IncomingHttpHeaders } from 'node:http';
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

/** What CORS adds to one answer: its headers, and whether the request is a preflight to end with 204. */
export interface CorsAnswer {
  headers: readonly (readonly [string, string])[];
  preflight: boolean;
}

/**
 * The CORS rule, whatever the HTTP platform: allowed origins get their origin and the exposed
 * headers, and on a preflight the methods and headers a client sends. A preflight is answered
 * 204 before auth and body parsing run, since it carries neither a key nor a body. Other origins
 * get no CORS headers, so the browser keeps the answer from the page. Returns undefined when no
 * origin is configured (no header at all, not even Vary).
 */
export function corsPolicy(
  settings: CorsSettings,
): ((method: string, headers: IncomingHttpHeaders) => CorsAnswer) | undefined {
  const allowed = new Set(settings.origins);
  if (allowed.size === 0) return undefined;
  const none: CorsAnswer = { headers: [], preflight: false };
  const nonePreflight: CorsAnswer = { headers: [], preflight: true };
  const exposed = ['Access-Control-Expose-Headers', EXPOSED_HEADERS] as const;
  const preflightHeaders = [
    ['Access-Control-Allow-Methods', ALLOWED_METHODS],
    ['Access-Control-Allow-Headers', ALLOWED_HEADERS],
    ['Access-Control-Max-Age', String(PREFLIGHT_MAX_AGE_S)],
  ] as const;
  return (method, headers) => {
    const origin = headers.origin;
    const preflight =
      method === 'OPTIONS' && headers['access-control-request-method'] !== undefined;
    if (origin === undefined || !allowed.has(origin)) return preflight ? nonePreflight : none;
    const own = [['Access-Control-Allow-Origin', origin] as const, exposed];
    return { headers: preflight ? [...own, ...preflightHeaders] : own, preflight };
  };
}
