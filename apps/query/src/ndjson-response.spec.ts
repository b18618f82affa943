import { randomUUID } from 'node:crypto';
import { get } from 'node:http';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import Fastify, { type FastifyInstance } from 'fastify';
import { NdjsonResponse, negotiateEncoding } from './ndjson-response';

describe('negotiateEncoding (Accept-Encoding, RFC 9110)', () => {
  it.each([
    [undefined, 'identity'],
    ['', 'identity'],
    ['identity', 'identity'],
    ['deflate', 'identity'],
    ['gzip', 'gzip'],
    ['br', 'br'],
    ['gzip, deflate, br', 'gzip'],
    ['br, gzip', 'gzip'],
    ['gzip;q=0.5, br', 'br'],
    ['GZIP;Q=0.8, br;q=0.9', 'br'],
    ['gzip;q=0, br;q=0', 'identity'],
    ['*', 'gzip'],
    ['*;q=0.5, gzip;q=0', 'br'],
    ['br;q=0.2, *;q=0.1', 'br'],
    ['gzip;q=abc', 'identity'],
  ])('%j answers %s', (header, coding) => {
    expect(negotiateEncoding(header)).toBe(coding);
  });
});

describe('NdjsonResponse bodies', () => {
  let app: FastifyInstance;
  let url: string;
  const line = (i: number) => `${JSON.stringify({ type: 'record', id: randomUUID(), i })}\n`;
  const lines = Array.from({ length: 40_000 }, (_, i) => line(i));

  beforeAll(async () => {
    app = Fastify();
    app.get('/body', async (_request, reply) => {
      const body = NdjsonResponse.start(reply);
      // Small writes, as a COPY's chunks are small next to the body.
      for (let i = 0; i < lines.length; i += 100) {
        await body.write(lines.slice(i, i + 100).join(''));
      }
      await body.end();
    });
    url = await app.listen({ port: 0, host: '127.0.0.1' });
  });
  afterAll(() => app.close());

  /** The body as sent (no decoding) and the sizes of the pieces the socket delivered. */
  function fetchRaw(
    acceptEncoding: string,
  ): Promise<{ coding: string; body: Buffer; chunks: number }> {
    return new Promise((resolve, reject) => {
      get(`${url}/body`, { headers: { 'accept-encoding': acceptEncoding } }, (res) => {
        const pieces: Buffer[] = [];
        res.on('data', (piece: Buffer) => pieces.push(piece));
        res.on('end', () =>
          resolve({
            coding: String(res.headers['content-encoding'] ?? 'identity'),
            body: Buffer.concat(pieces),
            chunks: pieces.length,
          }),
        );
        res.on('error', reject);
      }).on('error', reject);
    });
  }

  it.each([
    ['gzip', gunzipSync],
    ['br', brotliDecompressSync],
  ])('%s: the whole text, compressed in a few large HTTP chunks', async (coding, decode) => {
    const sent = await fetchRaw(coding);
    expect(sent.coding).toBe(coding);
    const text = decode(sent.body).toString();
    expect(text).toBe(lines.join(''));
    // ~3 MB of text: 400 writes, but only a few compressed pieces of 10s of KB or more.
    expect(sent.body.length / sent.chunks).toBeGreaterThan(16 << 10);
  });

  it('identity: the text as written', async () => {
    const sent = await fetchRaw('identity');
    expect(sent.coding).toBe('identity');
    expect(sent.body.toString()).toBe(lines.join(''));
  });
});
