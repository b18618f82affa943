import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import { SyncApiError, SyncNetworkError, SyncProtocolError } from '../errors';
import type { Operation } from '../protocol';
import { SyncHttpTransport, type SyncHttpTransportOptions } from './http-transport';
import { nodeFetch } from './node-fetch';

/*
 * SyncHttpTransport against a real HTTP server on 127.0.0.1 that answers from a script, so that
 * status codes, bodies, stalls and closed connections are the real thing for fetch.
 */

const LIB = '77777777-7777-4777-8777-777777777777';
const OP: Operation = {
  type: 'CREATE',
  recordId: '00000000-0000-4000-8000-000000000001',
  model: 'Tag',
  data: { name: 'x' },
  node: '0a000000-0000-4000-8000-00000000000a',
  timestamp: { hybrid: '7301444403200000000' },
};

interface Seen {
  method: string;
  url: string;
  contentType: string | undefined;
  body: string;
}

type Reply =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | { stallMs: number; then?: Reply }
  | { destroy: true };

class ScriptedServer {
  readonly seen: Seen[] = [];
  private script: Reply[] = [];
  private fallback: Reply = { status: 500, body: { error: 'UNSCRIPTED', message: 'no reply' } };
  private server: Server | undefined;
  private readonly timers = new Set<NodeJS.Timeout>();

  reply(...replies: Reply[]): this {
    this.script.push(...replies);
    return this;
  }

  always(reply: Reply): this {
    this.fallback = reply;
    return this;
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    this.seen.push({
      method: req.method ?? '',
      url: req.url ?? '',
      contentType: req.headers['content-type'],
      body: Buffer.concat(chunks).toString('utf8'),
    });
    this.send(res, this.script.shift() ?? this.fallback);
  }

  private send(res: ServerResponse, reply: Reply): void {
    if ('destroy' in reply) {
      res.socket?.destroy();
      return;
    }
    if ('stallMs' in reply) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        if (reply.then && !res.destroyed) this.send(res, reply.then);
      }, reply.stallMs);
      this.timers.add(timer);
      return;
    }
    const text = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(text);
  }
}

// Node's global fetch, and nodeFetch (its replacement for large bodies) behind the same transport.
describe.each([
  ['global fetch', undefined],
  ['nodeFetch', nodeFetch],
])('SyncHttpTransport over %s', (_name, fetchImpl) => {
  let server: ScriptedServer;
  let base: string;

  beforeEach(async () => {
    server = new ScriptedServer();
    base = await server.start();
  });

  afterEach(async () => {
    await server.stop();
  });

  function transport(options: Partial<SyncHttpTransportOptions> = {}): SyncHttpTransport {
    return new SyncHttpTransport({
      ingestUrl: `${base}/`,
      queryUrl: base,
      timeoutMs: 2000,
      retry: { attempts: 4, baseDelayMs: 5, maxDelayMs: 20 },
      ...(fetchImpl === undefined ? {} : { fetch: fetchImpl }),
      ...options,
    });
  }

  const accepted = {
    status: 202,
    body: { accepted: 1, partition: 2, firstOffset: '41', lastOffset: '41' },
  };
  const brokerDown = {
    status: 503,
    body: { error: 'BROKER_UNAVAILABLE', message: 'Kafka did not answer' },
  };

  describe('push', () => {
    it('POSTs the ops as a JSON array and reads the offsets as bigints', async () => {
      server.reply(accepted);
      const result = await transport().push(LIB, [OP]);
      expect(result).toEqual({ accepted: 1, partition: 2, firstOffset: 41n, lastOffset: 41n });
      expect(server.seen).toEqual([
        {
          method: 'POST',
          url: `/libraries/${LIB}/operations`,
          contentType: 'application/json',
          body: JSON.stringify([OP]),
        },
      ]);
    });

    it('retries 503 BROKER_UNAVAILABLE with the very same body, then succeeds', async () => {
      server.reply(brokerDown, brokerDown, accepted);
      await expect(transport().push(LIB, [OP])).resolves.toMatchObject({ lastOffset: 41n });
      expect(server.seen).toHaveLength(3);
      expect(new Set(server.seen.map((s) => s.body))).toEqual(new Set([JSON.stringify([OP])]));
    });

    it('retries 429 OVERLOADED after its Retry-After, stretched by the jitter, never sooner', async () => {
      server.reply(
        {
          status: 429,
          body: { error: 'OVERLOADED', message: 'at the in-flight bound' },
          headers: { 'Retry-After': '1' },
        },
        accepted,
      );
      const started = Date.now();
      // Jitter 0.5: 1 s stretched by 0.5 x RETRY_AFTER_SPREAD = 25 %, although maxDelayMs is 20.
      await expect(transport({ random: () => 0.5 }).push(LIB, [OP])).resolves.toMatchObject({
        accepted: 1,
      });
      expect(Date.now() - started).toBeGreaterThanOrEqual(1250);
      expect(server.seen).toHaveLength(2);
    });

    it('gives up after the configured attempts with the last contract error', async () => {
      server.always(brokerDown);
      const error = await transport()
        .push(LIB, [OP])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SyncApiError);
      expect(error).toMatchObject({ status: 503, code: 'BROKER_UNAVAILABLE', attempts: 4 });
      expect((error as SyncApiError).retryable).toBe(true);
      expect(server.seen).toHaveLength(4);
    });

    it('does not retry a 422 and surfaces its code and details', async () => {
      const details = [{ index: 0, path: 'data.name', message: 'must be a string' }];
      server.reply({
        status: 422,
        body: { error: 'VALIDATION_FAILED', message: '1 invalid op', details },
      });
      const error = await transport()
        .push(LIB, [OP])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SyncApiError);
      expect(error).toMatchObject({ status: 422, code: 'VALIDATION_FAILED', details, attempts: 1 });
      expect((error as SyncApiError).retryable).toBe(false);
      expect(server.seen).toHaveLength(1);
    });

    it('does not retry other 4xx answers either (400, 413)', async () => {
      server.reply(
        { status: 400, body: { error: 'INVALID_LIBRARY_ID', message: 'bad id' } },
        { status: 413, body: { error: 'PAYLOAD_TOO_LARGE', message: 'too many' } },
      );
      await expect(transport().push('nope', [OP])).rejects.toMatchObject({
        code: 'INVALID_LIBRARY_ID',
      });
      await expect(transport().push(LIB, [OP])).rejects.toMatchObject({
        code: 'PAYLOAD_TOO_LARGE',
      });
      expect(server.seen).toHaveLength(2);
    });

    it('times out a stalled attempt and retries it', async () => {
      server.reply({ stallMs: 5000, then: accepted }, accepted);
      const started = Date.now();
      await expect(transport({ timeoutMs: 200 }).push(LIB, [OP])).resolves.toMatchObject({
        accepted: 1,
      });
      expect(server.seen).toHaveLength(2);
      expect(Date.now() - started).toBeLessThan(2000);
    });

    it('throws SyncNetworkError once every attempt failed without an answer', async () => {
      server.always({ destroy: true });
      const error = await transport()
        .push(LIB, [OP])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SyncNetworkError);
      expect((error as SyncNetworkError).attempts).toBe(4);
      expect(server.seen).toHaveLength(4);
    });

    it('reports a refused connection as SyncNetworkError', async () => {
      await server.stop();
      const error = await transport({ retry: { attempts: 2, baseDelayMs: 1 } })
        .push(LIB, [OP])
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(SyncNetworkError);
      expect((error as Error).message).toMatch(/no answer after 2 attempt/);
    });

    it('rejects a 202 that does not account for every op', async () => {
      server.reply({
        status: 202,
        body: { accepted: 0, partition: 0, firstOffset: '1', lastOffset: '1' },
      });
      await expect(transport().push(LIB, [OP])).rejects.toThrow(SyncProtocolError);
    });

    it('keeps the status of an answer that is not a contract error (a proxy page)', async () => {
      server.always({ status: 502, body: '<html>bad gateway</html>' });
      await expect(
        transport({ retry: { attempts: 2, baseDelayMs: 1 } }).push(LIB, [OP]),
      ).rejects.toMatchObject({ status: 502, code: 'HTTP_502', attempts: 2 });
    });
  });

  describe('pull', () => {
    const page = {
      status: 200,
      body: { items: [{ offset: '42', operation: OP }], nextCursor: 'abc' },
    };

    it('GETs the feed after an offset and reads entries', async () => {
      server.reply(page);
      const result = await transport().pull(LIB, { after: 41n, limit: 500 });
      expect(result).toEqual({ items: [{ offset: 42n, operation: OP }], nextCursor: 'abc' });
      const url = new URL(server.seen[0].url, base);
      expect(url.pathname).toBe(`/libraries/${LIB}/operations`);
      expect(Object.fromEntries(url.searchParams)).toEqual({ after: '41', limit: '500' });
    });

    it('starts from the beginning without `after`, and passes minOffset and waitMs', async () => {
      server.reply(page);
      await transport().pull(LIB, { after: null, limit: 10, minOffset: 99n, waitMs: 3000 });
      const url = new URL(server.seen[0].url, base);
      expect(Object.fromEntries(url.searchParams)).toEqual({
        limit: '10',
        minOffset: '99',
        waitMs: '3000',
      });
    });

    it('retries 503 NOT_YET_APPLIED', async () => {
      server.reply(
        { status: 503, body: { error: 'NOT_YET_APPLIED', message: 'offset 99 not applied' } },
        page,
      );
      await expect(
        transport().pull(LIB, { after: null, limit: 10, minOffset: 99n }),
      ).resolves.toMatchObject({ nextCursor: 'abc' });
      expect(server.seen).toHaveLength(2);
    });

    it('rejects a feed page that is not {items, nextCursor} with decimal offsets', async () => {
      server.reply(
        { status: 200, body: { items: [{ offset: 42, operation: OP }], nextCursor: null } },
        { status: 200, body: [] },
      );
      await expect(transport().pull(LIB, { after: null, limit: 1 })).rejects.toThrow(
        SyncProtocolError,
      );
      await expect(transport().pull(LIB, { after: null, limit: 1 })).rejects.toThrow(
        SyncProtocolError,
      );
    });
  });

  describe('pull, NDJSON form', () => {
    const ndjson = (lines: unknown[]) => ({
      status: 200,
      headers: { 'content-type': 'application/x-ndjson; charset=utf-8' },
      body: lines.map((l) => `${JSON.stringify(l)}\n`).join(''),
    });

    it('asks for NDJSON, reads its lines and the end line cursor', async () => {
      server.reply(
        ndjson([
          { offset: '42', operation: OP },
          { offset: '43', operation: OP },
          { type: 'end', items: 2, nextCursor: 'c43' },
        ]),
      );
      const result = await transport().pull(LIB, { after: 41n, limit: 5000 });
      expect(result).toEqual({
        items: [
          { offset: 42n, operation: OP },
          { offset: 43n, operation: OP },
        ],
        nextCursor: 'c43',
      });
      expect(server.seen[0].url).toContain('limit=5000');
    });

    it('rejects an NDJSON answer cut before its end line', async () => {
      server.reply(ndjson([{ offset: '42', operation: OP }]));
      await expect(transport().pull(LIB, { after: null, limit: 10 })).rejects.toThrow(
        /without its end line/,
      );
      server.reply(
        ndjson([
          { offset: '42', operation: OP },
          { type: 'end', items: 2, nextCursor: null },
        ]),
      );
      await expect(transport().pull(LIB, { after: null, limit: 10 })).rejects.toThrow(
        SyncProtocolError,
      );
    });
  });

  describe('pull, NDJSON parsed as it streams', () => {
    const entries = [
      { offset: '42', operation: OP },
      // Multi-byte characters: a chunk may end inside one.
      { offset: '43', operation: { ...OP, data: { name: 'ä€😀 \n "q"' } } },
      { offset: '44', operation: OP },
    ];
    const text =
      [...entries, { type: 'end', items: 3, nextCursor: 'c44' }]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n';
    const bytes = new TextEncoder().encode(text);

    /** fetch answering the page in chunks cut at `cuts` (byte positions). */
    const chunkedFetch =
      (cuts: number[], body = bytes): typeof fetch =>
      () => {
        const ends = [...new Set(cuts)].sort((a, b) => a - b);
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            let start = 0;
            for (const end of [...ends, body.length]) {
              if (end > start) controller.enqueue(body.slice(start, end));
              start = Math.max(start, end);
            }
            controller.close();
          },
        });
        return Promise.resolve(
          new Response(stream, { headers: { 'content-type': 'application/x-ndjson' } }),
        );
      };

    it('reads the same page wherever the chunks are cut', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.nat({ max: bytes.length }), { maxLength: 40 }),
          async (cuts) => {
            const page = await transport({ fetch: chunkedFetch(cuts) }).pull(LIB, {
              after: null,
              limit: 10,
            });
            expect(page).toEqual({
              items: entries.map((e) => ({ offset: BigInt(e.offset), operation: e.operation })),
              nextCursor: 'c44',
            });
          },
        ),
        { numRuns: 200 },
      );
    });

    it('rejects a line after the end line, and does not retry a malformed page', async () => {
      let calls = 0;
      const extra = new TextEncoder().encode(`${text}${JSON.stringify(entries[0])}\n`);
      const fetchOnce = chunkedFetch([5, 100], extra);
      const counting: typeof fetch = (...args) => {
        calls++;
        return fetchOnce(...args);
      };
      await expect(
        transport({ fetch: counting }).pull(LIB, { after: null, limit: 10 }),
      ).rejects.toThrow(/line after its end line/);
      expect(calls).toBe(1);
    });
  });

  describe('serverState', () => {
    it('follows record and relation cursors to the end', async () => {
      const rec = (n: number) => ({ id: `r${n}`, model: 'Tag', data: {} });
      server.reply(
        { status: 200, body: { items: [rec(1), rec(2)], nextCursor: 'c1' } },
        { status: 200, body: { items: [rec(3)], nextCursor: null } },
        { status: 200, body: { items: [], nextCursor: null } },
      );
      const state = await transport().serverState(LIB, { minOffset: 7n });
      expect(state).toEqual({ records: [rec(1), rec(2), rec(3)], relations: [] });
      const urls = server.seen.map((s) => new URL(s.url, base));
      expect(urls.map((u) => u.pathname)).toEqual([
        `/libraries/${LIB}/records`,
        `/libraries/${LIB}/records`,
        `/libraries/${LIB}/relations`,
      ]);
      expect(urls[1].searchParams.get('cursor')).toBe('c1');
      expect(urls.every((u) => u.searchParams.get('minOffset') === '7')).toBe(true);
    });
  });
});
