/** Thin HTTP client of the sync services for the CLI: contract error bodies become CliError. */

export class CliError extends Error {
  constructor(
    message: string,
    /** Process exit code: 1 failure, 2 usage. */
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 2);
    this.name = 'UsageError';
  }
}

export interface Endpoints {
  ingestUrl: string;
  queryUrl: string;
  apiKey?: string;
  /** Aborts requests in flight (Ctrl-C during a long poll). */
  signal?: AbortSignal;
}

export class SyncHttp {
  constructor(private readonly endpoints: Endpoints) {}

  withSignal(signal: AbortSignal): SyncHttp {
    return new SyncHttp({ ...this.endpoints, signal });
  }

  private headers(json: boolean): Record<string, string> {
    return {
      accept: 'application/json',
      ...(json ? { 'content-type': 'application/json' } : {}),
      ...(this.endpoints.apiKey ? { authorization: `Bearer ${this.endpoints.apiKey}` } : {}),
    };
  }

  async postOperations(
    libraryId: string,
    ops: readonly unknown[],
  ): Promise<{ accepted: number; partition: number; firstOffset: string; lastOffset: string }> {
    const url = `${this.endpoints.ingestUrl}/libraries/${libraryId}/operations`;
    return this.send(url, 202, { method: 'POST', body: JSON.stringify(ops) }, true);
  }

  async getQuery<T>(path: string, expected = 200): Promise<T> {
    return this.send(`${this.endpoints.queryUrl}${path}`, expected, { method: 'GET' }, false);
  }

  /** GET that may answer 503 NOT_YET_APPLIED (a long poll that timed out): null then. */
  async getQueryOrNotYet<T>(path: string): Promise<T | null> {
    try {
      return await this.getQuery<T>(path);
    } catch (error) {
      if (error instanceof ApiError && error.code === 'NOT_YET_APPLIED') return null;
      throw error;
    }
  }

  private async send<T>(
    url: string,
    expected: number,
    init: RequestInit,
    json: boolean,
  ): Promise<T> {
    let res: Response;
    try {
      res = await fetch(url, {
        ...init,
        headers: this.headers(json),
        signal: this.endpoints.signal,
      });
    } catch (error) {
      const cause = (error as { cause?: { message?: string } }).cause?.message;
      throw new CliError(`${init.method} ${url}: no answer (${cause ?? String(error)})`);
    }
    const text = await res.text();
    if (res.status === expected) return JSON.parse(text) as T;
    let code = `HTTP_${res.status}`;
    let message = text.slice(0, 300);
    try {
      const body = JSON.parse(text) as { error?: string; message?: string; details?: unknown[] };
      if (typeof body.error === 'string') {
        code = body.error;
        message = `${body.message ?? ''}${body.details ? ` ${JSON.stringify(body.details.slice(0, 5))}` : ''}`;
      }
    } catch {
      // not a contract body: keep the text
    }
    throw new ApiError(
      `${init.method} ${url}: ${res.status} ${code}: ${message}`,
      code,
      res.status,
    );
  }
}

export class ApiError extends CliError {
  constructor(
    message: string,
    readonly code: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
