import {
  type ApiErrorDetail,
  SyncApiError,
  SyncNetworkError,
  SyncProtocolError,
  isRetryableStatus,
} from '../errors';
import {
  type JsonObject,
  type MaterializedState,
  type Operation,
  type RecordView,
  type RelationView,
  TEXT_PIECE_SIZE,
} from '../protocol';
import { readLines } from './ndjson-lines';
import { type RetryOptions, type RetryPolicy, backoffDelay, retryPolicy, sleep } from './retry';
import { type SnapshotContents, SnapshotSliceBuilder } from '../replica/snapshot-slice';
import type {
  FeedEntry,
  FeedPage,
  PullRequest,
  PushResult,
  ServerDigest,
  SnapshotOptions,
  SyncTransport,
} from './sync-transport';

export interface SyncHttpTransportOptions {
  /** Base URL of the ingest service, e.g. http://127.0.0.1:3001 */
  ingestUrl: string;
  /** Base URL of the query service, e.g. http://127.0.0.1:3002 */
  queryUrl: string;
  /** Per attempt, response body included (default 10000 ms). Pulls that wait for minOffset get waitMs on top. */
  timeoutMs?: number;
  retry?: RetryOptions;
  /** Sent with every request (e.g. an Authorization header of a gateway in front). */
  headers?: Record<string, string>;
  /** Injectable for tests; defaults to the global fetch of Node 20. */
  fetch?: typeof fetch;
  /** Jitter source in [0, 1); injectable for tests. */
  random?: () => number;
}

export interface LibraryStatus {
  partition: number;
  appliedOffset: string | null;
  records: number;
  relations: number;
  pending: number;
  rejected: number;
}

/** Answers read-your-writes requests only once the library's log is applied through minOffset. */
export interface ReadOptions {
  minOffset?: bigint;
  waitMs?: number;
  /** Time travel: the state as of this log offset. */
  asOf?: bigint;
}

const DEFAULT_TIMEOUT_MS = 10_000;
/** Head room over the server's own wait for minOffset before the client gives up on an attempt. */
const WAIT_MARGIN_MS = 5_000;
const OFFSET = /^(0|[1-9]\d*)$/;
/** The feed's NDJSON form where the server has it, its JSON form otherwise. */
const FEED_ACCEPT = 'application/x-ndjson, application/json;q=0.5';

/** An answer: the text of an unexpected status, or what `read` made of the expected one. */
type Attempt<T = string> = { status: number; text: string; value?: T; retryAfterMs?: number };

/** Reads the body of an answer with the expected status (text, or parsed as it streams). */
type BodyReader<T> = (response: Response, url: string) => Promise<T>;

const readText: BodyReader<string> = (response) => response.text();

/**
 * The sync service over HTTP (contract section 7), with the global fetch. Every request has a
 * timeout and is retried with capped exponential backoff and full jitter on network errors,
 * timeouts and 5xx answers (503 BROKER_UNAVAILABLE, NOT_YET_APPLIED). Retrying a push is safe: the
 * ops keep their identity, and an op whose identity and content were already accepted is a
 * duplicate (D1). 4xx answers are not retried; they surface as SyncApiError with the contract's
 * code and details.
 */
export class SyncHttpTransport implements SyncTransport {
  readonly ingestUrl: string;
  readonly queryUrl: string;
  private readonly timeoutMs: number;
  private readonly policy: RetryPolicy;
  private readonly headers: Record<string, string>;
  private readonly fetchImpl: typeof fetch;
  private readonly random: () => number;

  constructor(options: SyncHttpTransportOptions) {
    this.ingestUrl = trimSlash(options.ingestUrl);
    this.queryUrl = trimSlash(options.queryUrl);
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.policy = retryPolicy(options.retry);
    this.headers = { ...options.headers };
    // Bound: browsers refuse fetch called with another `this` ("Illegal invocation").
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.random = options.random ?? Math.random;
  }

  async push(libraryId: string, ops: readonly Operation[]): Promise<PushResult> {
    const url = `${this.ingestUrl}/libraries/${encodeURIComponent(libraryId)}/operations`;
    const body = parseJson(
      await this.request('POST', url, 202, JSON.stringify(ops), this.timeoutMs),
      url,
    );
    const accepted = body['accepted'];
    const partition = body['partition'];
    if (typeof accepted !== 'number' || accepted !== ops.length || typeof partition !== 'number') {
      throw new SyncProtocolError(`POST ${url}: unexpected 202 body ${preview(body)}`);
    }
    return {
      accepted,
      partition,
      firstOffset: parseOffset(body['firstOffset'], `POST ${url}: firstOffset`),
      lastOffset: parseOffset(body['lastOffset'], `POST ${url}: lastOffset`),
    };
  }

  /**
   * One feed page. Asks for the NDJSON form (pages up to 100,000 ops, printed by Postgres and
   * streamed) and reads the JSON form too, from a server that answers only that.
   */
  async pull(libraryId: string, request: PullRequest): Promise<FeedPage> {
    const query = new URLSearchParams({ limit: String(request.limit) });
    if (request.after !== null) query.set('after', request.after.toString());
    if (request.node !== undefined) query.set('node', request.node);
    const timeout = this.addReadParams(query, request);
    const url = `${this.queryUrl}/libraries/${encodeURIComponent(libraryId)}/operations?${query.toString()}`;
    return this.exchange('GET', url, 200, undefined, timeout, readFeedPage, FEED_ACCEPT);
  }

  /**
   * The library's full snapshot (GET .../snapshot), parsed line by line as it streams in
   * (compressed on the wire: fetch asks for gzip/br and decodes). Asks for records' clocks as
   * compact text (`clocks=compact`: lines a third shorter, and no array per field to parse)
   * and reads either form per line, as a server answers rows it cannot print so, or ignores the
   * parameter. One attempt bounded by timeoutMs per 10 MB read; a cut stream (no end line) is a
   * SyncProtocolError, not retried here: call again.
   */
  async snapshot(libraryId: string, options: SnapshotOptions = {}): Promise<SnapshotContents> {
    const url = `${this.queryUrl}/libraries/${encodeURIComponent(libraryId)}/snapshot?view=full&order=none&clocks=compact`;
    let response: Response;
    try {
      response = await this.fetchImpl(url, {
        headers: { accept: 'application/x-ndjson', ...this.headers },
        signal: AbortSignal.timeout(this.timeoutMs * 6),
      });
    } catch (error) {
      throw new SyncNetworkError(`GET ${url}: no answer: ${describe(error)}`, 1, error);
    }
    if (response.status !== 200 || !response.body) {
      throw apiError('GET', url, { status: response.status, text: await response.text() }, 1);
    }
    const builder = new SnapshotSliceBuilder();
    try {
      await readLines(
        response.body,
        (line) => builder.addLine(line),
        () => options.onProgress?.(builder.lines),
        // Decoded whole, a snapshot's 256 KiB chunks cost a 100k-record bootstrap about 0.5 s
        // more CPU (GC included). Feed pages stay decoded a chunk at a time: in pieces, 7 of 16
        // runs of a 100k-record sync() from empty peaked at 322-346 MB of RSS (at most 273 in 39
        // runs without), for no CPU gain beyond the spread (docs/BENCHMARKS.md).
        TEXT_PIECE_SIZE,
      );
      return builder.finish();
    } catch (error) {
      throw new SyncProtocolError(`GET ${url}: ${describe(error)}`);
    }
  }

  /** GET .../digest?asOf=: waits up to 5 s for the offset to be applied, as minOffset does. */
  async digest(libraryId: string, asOf: bigint): Promise<ServerDigest> {
    const url = `${this.queryUrl}/libraries/${encodeURIComponent(libraryId)}/digest?asOf=${asOf}`;
    const body = parseJson(await this.request('GET', url, 200, undefined, this.timeoutMs), url);
    const { digest, appliedOffset, records, relations } = body;
    if (
      typeof digest !== 'string' ||
      !/^sha256:[0-9a-f]{64}$/.test(digest) ||
      !(typeof appliedOffset === 'string' || appliedOffset === null) ||
      typeof records !== 'number' ||
      typeof relations !== 'number'
    ) {
      throw new SyncProtocolError(`GET ${url}: not a digest answer`);
    }
    return { digest, appliedOffset, records, relations };
  }

  /** The visible state as of a log offset (GET records and relations with asOf). */
  stateAsOf(libraryId: string, asOf: bigint): Promise<MaterializedState> {
    return this.serverState(libraryId, { asOf });
  }

  /** Every visible record and relation of a library, as the query service shows them. */
  async serverState(libraryId: string, options: ReadOptions = {}): Promise<MaterializedState> {
    const records = await this.readAll<RecordView>(libraryId, 'records', options);
    const relations = await this.readAll<RelationView>(libraryId, 'relations', options);
    return { records, relations };
  }

  async status(libraryId: string, options: ReadOptions = {}): Promise<LibraryStatus> {
    const query = new URLSearchParams();
    const timeout = this.addReadParams(query, options);
    const url = `${this.queryUrl}/libraries/${encodeURIComponent(libraryId)}/status?${query.toString()}`;
    return parseJson(
      await this.request('GET', url, 200, undefined, timeout),
      url,
    ) as unknown as LibraryStatus;
  }

  private async readAll<T>(
    libraryId: string,
    what: 'records' | 'relations',
    options: ReadOptions,
  ): Promise<T[]> {
    const all: T[] = [];
    let cursor: string | null = null;
    do {
      const query = new URLSearchParams({ limit: '1000' });
      if (cursor !== null) query.set('cursor', cursor);
      const timeout = this.addReadParams(query, options);
      const url = `${this.queryUrl}/libraries/${encodeURIComponent(libraryId)}/${what}?${query.toString()}`;
      const page = parsePage(await this.request('GET', url, 200, undefined, timeout), url);
      all.push(...(page.items as T[]));
      cursor = page.nextCursor;
    } while (cursor !== null);
    return all;
  }

  /** Adds minOffset/waitMs; returns the attempt timeout, which must outlast the server's wait. */
  private addReadParams(query: URLSearchParams, options: ReadOptions): number {
    if (options.asOf !== undefined) query.set('asOf', options.asOf.toString());
    if (options.minOffset === undefined) return this.timeoutMs;
    query.set('minOffset', options.minOffset.toString());
    if (options.waitMs !== undefined) query.set('waitMs', String(options.waitMs));
    return this.timeoutMs + (options.waitMs ?? 5000) + WAIT_MARGIN_MS;
  }

  /** One request with retries; returns the body text of the expected status. */
  private async request(
    method: 'GET' | 'POST',
    url: string,
    expected: number,
    body: string | undefined,
    timeoutMs: number,
  ): Promise<string> {
    return this.exchange(method, url, expected, body, timeoutMs, readText);
  }

  /**
   * One request with retries; returns the body of the expected status as `read` makes it. A
   * network error or timeout while reading is retried like one before the answer; a body that
   * `read` finds malformed (SyncProtocolError) is not.
   */
  private async exchange<T>(
    method: 'GET' | 'POST',
    url: string,
    expected: number,
    body: string | undefined,
    timeoutMs: number,
    read: BodyReader<T>,
    accept = 'application/json',
  ): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let result: Attempt<T>;
      try {
        result = await this.attempt(method, url, expected, body, timeoutMs, accept, read);
      } catch (error) {
        if (error instanceof SyncProtocolError) throw error;
        if (attempt >= this.policy.attempts) {
          throw new SyncNetworkError(
            `${method} ${url}: no answer after ${attempt} attempt(s): ${describe(error)}`,
            attempt,
            error,
          );
        }
        await sleep(backoffDelay(this.policy, attempt, this.random));
        continue;
      }
      if (result.status === expected) return result.value as T;
      const error = apiError(method, url, result, attempt);
      if (!isRetryableStatus(result.status) || attempt >= this.policy.attempts) throw error;
      await sleep(backoffDelay(this.policy, attempt, this.random, result.retryAfterMs));
    }
  }

  private async attempt<T>(
    method: string,
    url: string,
    expected: number,
    body: string | undefined,
    timeoutMs: number,
    accept: string,
    read: BodyReader<T>,
  ): Promise<Attempt<T>> {
    // One signal for the whole exchange: a server that stalls mid-body times out too.
    const response = await this.fetchImpl(url, {
      method,
      headers: {
        accept,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...this.headers,
      },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (response.status === expected) {
      return { status: response.status, text: '', value: await read(response, url) };
    }
    const text = await response.text();
    const retryAfter = Number(response.headers.get('retry-after'));
    return {
      status: response.status,
      text,
      retryAfterMs: Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : undefined,
    };
  }
}

function apiError(
  method: string,
  url: string,
  result: Attempt<unknown>,
  attempts: number,
): SyncApiError {
  let body: unknown;
  try {
    body = JSON.parse(result.text);
  } catch {
    body = undefined;
  }
  if (isObject(body) && typeof body['error'] === 'string') {
    const details = Array.isArray(body['details'])
      ? (body['details'] as unknown[]).filter(isObject)
      : [];
    const message = typeof body['message'] === 'string' ? body['message'] : '';
    return new SyncApiError(result.status, body['error'], message, details, attempts);
  }
  // Not a contract error (e.g. a proxy's page): keep the status, show the start of the body.
  return new SyncApiError(
    result.status,
    `HTTP_${result.status}`,
    `${method} ${url}: ${result.text.slice(0, 200)}`,
    [],
    attempts,
  );
}

function parseJson(text: string, url: string): JsonObject {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new SyncProtocolError(`${url}: answer is not JSON: ${text.slice(0, 200)}`);
  }
  if (!isObject(body)) throw new SyncProtocolError(`${url}: answer is not a JSON object`);
  return body as JsonObject;
}

function parsePage(text: string, url: string): { items: unknown[]; nextCursor: string | null } {
  const body = parseJson(text, url);
  const items = body['items'];
  const nextCursor = body['nextCursor'];
  if (!Array.isArray(items) || !(nextCursor === null || typeof nextCursor === 'string')) {
    throw new SyncProtocolError(`${url}: answer is not {items, nextCursor}`);
  }
  return { items, nextCursor };
}

/**
 * A feed page, in the NDJSON form (parsed line by line as it streams: the page's text is never
 * held whole) or the JSON form of a server that answers only that.
 */
const readFeedPage: BodyReader<FeedPage> = async (response, url) => {
  const ndjson = response.headers.get('content-type')?.startsWith('application/x-ndjson');
  if (!ndjson || response.body === null) {
    const page = parsePage(await response.text(), url);
    return {
      items: page.items.map((raw, index) => feedEntry(raw, index, url)),
      nextCursor: page.nextCursor,
    };
  }
  return readNdjsonPage(response.body, url);
};

/** The NDJSON feed form: item lines, then `{"type":"end","items","nextCursor"}`. */
async function readNdjsonPage(body: ReadableStream<Uint8Array>, url: string): Promise<FeedPage> {
  const items: FeedEntry[] = [];
  let end: ApiErrorDetail | undefined;
  await readLines(body, (line) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new SyncProtocolError(`${url}: a line of the NDJSON feed is not JSON`);
    }
    if (end !== undefined)
      throw new SyncProtocolError(`${url}: NDJSON feed line after its end line`);
    if (isObject(value) && value['type'] === 'end') end = value;
    else items.push(feedEntry(value, items.length, url));
  });
  if (end === undefined || end['items'] !== items.length) {
    throw new SyncProtocolError(`${url}: NDJSON feed without its end line (incomplete)`);
  }
  const nextCursor = end['nextCursor'];
  if (!(nextCursor === null || typeof nextCursor === 'string')) {
    throw new SyncProtocolError(`${url}: end line without a nextCursor`);
  }
  return { items, nextCursor };
}

function feedEntry(raw: unknown, index: number, url: string): FeedEntry {
  if (!isObject(raw) || !isObject(raw['operation'])) {
    throw new SyncProtocolError(`GET ${url}: items[${index}] is not {offset, operation}`);
  }
  return {
    offset: parseOffset(raw['offset'], `GET ${url}: items[${index}].offset`),
    operation: raw['operation'] as unknown as Operation,
  };
}

function parseOffset(value: unknown, what: string): bigint {
  if (typeof value !== 'string' || !OFFSET.test(value)) {
    throw new SyncProtocolError(`${what} must be a decimal string, got ${preview(value)}`);
  }
  return BigInt(value);
}

function isObject(value: unknown): value is ApiErrorDetail {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function preview(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 200)}...` : text;
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: unknown }).cause;
  return cause instanceof Error ? `${error.message} (${cause.message})` : error.message;
}
