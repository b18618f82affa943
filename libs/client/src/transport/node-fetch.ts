import { Agent as HttpAgent, type IncomingMessage, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/*
 * A fetch for Node on node:http, for SyncHttpTransport's `fetch` option. Node's global fetch
 * (undici) inflates a compressed body in 16 KB pieces and hands each through a web stream: for a
 * large snapshot or feed page that is about twice the client's CPU of receiving it (100k-record
 * snapshot, 110 MB of NDJSON: 0.72 s against 0.33 s, docs/BENCHMARKS.md). Here a body is inflated
 * in 256 KB pieces, and the transport reads it as the same web ReadableStream.
 *
 * Only what the transport uses: method, headers, a string body and an abort signal; no
 * redirects, cookies or caching. A failure before the answer rejects with a TypeError whose
 * cause is the socket's error, as fetch does; an abort with the signal's reason.
 */

const INFLATE_CHUNK = 256 * 1024;
const httpAgent = new HttpAgent({ keepAlive: true });
const httpsAgent = new HttpsAgent({ keepAlive: true });
/** Statuses whose response has no body (Response refuses one). */
const NULL_BODY = new Set([204, 205, 304]);

export const nodeFetch = ((input: string | URL | Request, init: RequestInit = {}) => {
  if (input instanceof Request) {
    return Promise.reject(new TypeError('nodeFetch takes a URL, not a Request'));
  }
  const url = new URL(input);
  const { signal } = init;
  if (signal?.aborted) return Promise.reject(signal.reason as Error);
  const headers = new Headers(init.headers);
  if (!headers.has('accept-encoding')) headers.set('accept-encoding', 'gzip, deflate');
  const https = url.protocol === 'https:';
  if (!https && url.protocol !== 'http:') {
    return Promise.reject(new TypeError(`nodeFetch: ${url.protocol} URLs are not supported`));
  }
  if (init.body != null && typeof init.body !== 'string') {
    return Promise.reject(new TypeError('nodeFetch: only a string body is supported'));
  }
  return new Promise<Response>((resolve, reject) => {
    const request = (https ? httpsRequest : httpRequest)(url, {
      method: init.method ?? 'GET',
      headers: Object.fromEntries(headers),
      agent: https ? httpsAgent : httpAgent,
    });
    const abort = () => request.destroy(signal?.reason as Error);
    signal?.addEventListener('abort', abort, { once: true });
    request.on('error', (error) => {
      signal?.removeEventListener('abort', abort);
      reject(
        signal?.aborted
          ? (signal.reason as Error)
          : new TypeError('fetch failed', { cause: error }),
      );
    });
    request.on('response', (message) => {
      message.on('close', () => signal?.removeEventListener('abort', abort));
      try {
        resolve(toResponse(message, init.method === 'HEAD'));
      } catch (error) {
        // An answer Response cannot represent (a status outside 200-599).
        message.destroy();
        reject(new TypeError('fetch failed', { cause: error }));
      }
    });
    request.end(init.body ?? undefined);
  });
}) as typeof fetch;

function toResponse(message: IncomingMessage, head: boolean): Response {
  const headers = new Headers();
  const raw = message.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) headers.append(raw[i], raw[i + 1]);
  const status = message.statusCode ?? 0;
  if (head || NULL_BODY.has(status)) {
    message.resume();
    return new Response(null, { status, statusText: message.statusMessage, headers });
  }
  const body = decoded(message);
  return new Response(Readable.toWeb(body) as ReadableStream<Uint8Array>, {
    status,
    statusText: message.statusMessage,
    headers,
  });
}

/** The body with its content coding undone (gzip, deflate or br), as fetch does. */
function decoded(message: IncomingMessage): Readable {
  const coding = (message.headers['content-encoding'] ?? '').trim().toLowerCase();
  const decoder =
    coding === 'gzip' || coding === 'x-gzip'
      ? createGunzip({ chunkSize: INFLATE_CHUNK })
      : coding === 'deflate'
        ? createInflate({ chunkSize: INFLATE_CHUNK })
        : coding === 'br'
          ? createBrotliDecompress({ chunkSize: INFLATE_CHUNK })
          : undefined;
  if (decoder === undefined) return message;
  // pipe() forwards no errors: a connection closed mid-body would leave the decoder waiting.
  message.on('error', (error) => decoder.destroy(error));
  // The reader cancelled the stream: free the connection too.
  decoder.on('close', () => {
    if (!message.complete) message.destroy();
  });
  return message.pipe(decoder);
}
