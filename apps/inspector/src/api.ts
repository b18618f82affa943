import { authHeaders } from './session-key';

/** An answer with the contract's error body (or a network failure, status 0). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown[],
  ) {
    super(message);
  }

  /** "404 NOT_FOUND: no visible record ..." */
  describe(): string {
    return this.status === 0 ? this.message : `${this.status} ${this.code}: ${this.message}`;
  }
}

type Listener = (error: ApiError) => void;
const unauthorizedListeners = new Set<Listener>();

/** Called on every 401, wherever it came from, so the page can ask for a key once. */
export function onUnauthorized(listener: Listener): () => void {
  unauthorizedListeners.add(listener);
  return () => unauthorizedListeners.delete(listener);
}

export type Params = Record<string, string | number | boolean | null | undefined>;

/** A same-origin API path with its query string (unset parameters left out). */
export function apiPath(path: string, params: Params = {}): string {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') query.set(name, String(value));
  }
  const text = query.toString();
  return text === '' ? path : `${path}?${text}`;
}

/** GET through the API with the session's key; throws ApiError on anything but 2xx. */
export async function request(
  path: string,
  params: Params = {},
  init: RequestInit = {},
): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(apiPath(path, params), {
      ...init,
      headers: { accept: 'application/json', ...authHeaders(), ...init.headers },
    });
  } catch (error) {
    if (init.signal?.aborted) throw error;
    throw new ApiError(0, 'NETWORK', `the server did not answer (${String(error)})`);
  }
  if (response.ok) return response;
  const body = (await response.json().catch((error: unknown) => {
    // A request its view abandoned while the body was read: not an answer to report.
    if (init.signal?.aborted) throw error;
    return {};
  })) as {
    error?: string;
    message?: string;
    details?: unknown[];
  };
  const error = new ApiError(
    response.status,
    body.error ?? `HTTP_${response.status}`,
    body.message ?? response.statusText,
    body.details,
  );
  if (response.status === 401) unauthorizedListeners.forEach((listener) => listener(error));
  throw error;
}

export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal) {
  const response = await request(path, params, { signal });
  return (await response.json()) as T;
}

export const libraryPath = (libraryId: string, rest = '') =>
  `/libraries/${encodeURIComponent(libraryId)}${rest}`;
