import { ApiError, libraryPath, request } from './api';
import type { Change } from './api-types';
import { SseParser } from '../../../libs/client/src/live/sse-parser';

export type StreamState =
  | { state: 'connecting' }
  | { state: 'live' }
  | { state: 'retrying'; message: string }
  | { state: 'stopped'; message: string };

const RETRY_MS = 2000;

/**
 * Follows GET /libraries/{id}/changes from `after` (null: from the beginning) with fetch and a
 * stream reader, so the request carries the session's Bearer key (EventSource cannot send
 * headers, and a key in the URL would end up in logs). Reconnects after the last offset seen
 * (the server puts `id:` on the last event of each offset) until the returned stop is called.
 */
export function followChanges(
  libraryId: string,
  after: string | null,
  onChange: (change: Change) => void,
  onState: (state: StreamState) => void,
): () => void {
  const abort = new AbortController();
  let position = after;

  async function readOnce(): Promise<void> {
    onState({ state: 'connecting' });
    const response = await request(
      libraryPath(libraryId, '/changes'),
      { after: position },
      { headers: { accept: 'text/event-stream' }, signal: abort.signal },
    );
    if (response.body === null) throw new ApiError(0, 'NO_BODY', 'the stream has no body');
    onState({ state: 'live' });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    const parser = new SseParser();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const event of parser.push(value)) {
        if (event.event === 'record' || event.event === 'relation') {
          onChange(JSON.parse(event.data) as Change);
        }
        if (event.id !== undefined) position = event.id;
      }
    }
  }

  void (async () => {
    while (!abort.signal.aborted) {
      try {
        await readOnce();
        if (!abort.signal.aborted) onState({ state: 'retrying', message: 'the stream ended' });
      } catch (error) {
        if (abort.signal.aborted) return;
        const message = error instanceof ApiError ? error.describe() : String(error);
        // A refused key or a bad request will not get better by retrying.
        if (error instanceof ApiError && error.status >= 400 && error.status < 500) {
          onState({ state: 'stopped', message });
          return;
        }
        onState({ state: 'retrying', message });
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  })();
  return () => abort.abort();
}
