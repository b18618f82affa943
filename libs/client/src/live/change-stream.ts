import { type SseEvent, SseParser } from './sse-parser';

export type ChangeStreamState =
  | { state: 'connecting' }
  | { state: 'live' }
  | { state: 'retrying'; message: string }
  | { state: 'stopped'; message: string };

export interface ChangeStreamOptions {
  /** Base URL of the query service. */
  queryUrl: string;
  libraryId: string;
  /** Resume after this offset (sent as Last-Event-ID); null = from the beginning. */
  after: string | null;
  /** Sent with every request, e.g. `{ authorization: 'Bearer sk_...' }`. */
  headers?: Record<string, string>;
  fetch?: typeof fetch;
  /** Wait before reconnecting, doubled up to 30 s while attempts keep failing (default 1000). */
  retryMs?: number;
  /** Every `record` or `relation` event, in offset order; `id` is set on the last of an offset. */
  onEvent(event: SseEvent): void;
  onState?(state: ChangeStreamState): void;
}

const MAX_RETRY_MS = 30_000;

/**
 * Follows GET /libraries/{id}/changes over fetch with a stream reader (EventSource cannot send a
 * Bearer key) and reconnects with Last-Event-ID, the last id seen: the server writes the id on
 * the last event of each offset, so a cut in the middle of an offset resumes before it. A 4xx
 * answer stops it (a refused key does not get better); anything else is retried. Returns stop.
 */
export function followChangeStream(options: ChangeStreamOptions): () => void {
  const abort = new AbortController();
  const fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  const url = `${options.queryUrl.replace(/\/+$/, '')}/libraries/${encodeURIComponent(options.libraryId)}/changes`;
  const baseRetry = options.retryMs ?? 1000;
  let position = options.after;
  const setState = (state: ChangeStreamState) => options.onState?.(state);

  async function readOnce(): Promise<void> {
    setState({ state: 'connecting' });
    const headers: Record<string, string> = { ...options.headers, accept: 'text/event-stream' };
    if (position !== null) headers['last-event-id'] = position;
    const response = await fetchImpl(url, { headers, signal: abort.signal });
    if (!response.ok || response.body === null) {
      const text = await response.text().catch(() => '');
      throw new StreamHttpError(response.status, text.slice(0, 300));
    }
    setState({ state: 'live' });
    const reader = (response.body as ReadableStream<Uint8Array>).getReader();
    const decoder = new TextDecoder();
    const parser = new SseParser();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const event of parser.push(decoder.decode(value, { stream: true }))) {
        if (event.event === 'record' || event.event === 'relation') options.onEvent(event);
        if (event.id !== undefined) position = event.id;
      }
    }
  }

  void (async () => {
    let delay = baseRetry;
    while (!abort.signal.aborted) {
      const started = Date.now();
      try {
        await readOnce();
        if (!abort.signal.aborted) setState({ state: 'retrying', message: 'the stream ended' });
      } catch (error) {
        if (abort.signal.aborted) return;
        if (error instanceof StreamHttpError && error.status >= 400 && error.status < 500) {
          setState({ state: 'stopped', message: error.message });
          return;
        }
        setState({ state: 'retrying', message: String(error) });
      }
      // A stream that stayed up a while starts the backoff over.
      if (Date.now() - started > MAX_RETRY_MS) delay = baseRetry;
      await sleep(delay, abort.signal);
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  })();
  return () => abort.abort();
}

class StreamHttpError extends Error {
  constructor(
    readonly status: number,
    body: string,
  ) {
    super(`GET /changes answered ${status}${body ? `: ${body}` : ''}`);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    });
  });
}
