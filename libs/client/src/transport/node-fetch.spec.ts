import { randomBytes } from 'node:crypto';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { brotliCompressSync, constants, deflateSync, gzipSync } from 'node:zlib';
import { nodeFetch } from './node-fetch';

/*
 * nodeFetch against a real HTTP server on 127.0.0.1: what the transport relies on from fetch
 * (status, headers, decoded bodies, errors and aborts) must hold for it too. The transport's own
 * specs (http-transport.spec.ts) run over both.
 */

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

let server: Server;
let base: string;
let handler: Handler;

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => handler(req, Buffer.concat(chunks).toString('utf8'), res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

// Text that compresses (a body of many inflate pieces) yet is not all one byte.
const LARGE = Array.from(
  { length: 40_000 },
  (_, i) => `{"line":${i},"r":"${randomBytes(6).toString('hex')}"}\n`,
).join('');

describe('nodeFetch', () => {
  it('sends the method, headers and body, and asks for gzip or deflate', async () => {
    let seen: { method?: string; headers?: IncomingMessage['headers']; body?: string } = {};
    handler = (req, body, res) => {
      seen = { method: req.method, headers: req.headers, body };
      res.writeHead(202, { 'content-type': 'application/json', 'x-thing': 'a' });
      res.end('{"ok":true}');
    };
    const response = await nodeFetch(`${base}/ops?x=1`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: '[1,2]',
    });
    expect(response.status).toBe(202);
    expect(response.headers.get('x-thing')).toBe('a');
    expect(await response.json()).toEqual({ ok: true });
    expect(seen.method).toBe('POST');
    expect(seen.body).toBe('[1,2]');
    expect(seen.headers?.authorization).toBe('Bearer k');
    expect(seen.headers?.['accept-encoding']).toBe('gzip, deflate');
  });

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    [
      'br',
      (b: Buffer) => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 1 } }),
    ],
  ])('decodes a %s body of many pieces exactly', async (coding, compress) => {
    handler = (_req, _body, res) => {
      res.writeHead(200, { 'content-encoding': coding });
      res.end(compress(Buffer.from(LARGE)));
    };
    const response = await nodeFetch(`${base}/snapshot`);
    expect(await response.text()).toBe(LARGE);
  });

  it('gives an answer without a body for 204', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(204);
      res.end();
    };
    const response = await nodeFetch(`${base}/x`);
    expect(response.status).toBe(204);
    expect(response.body).toBeNull();
  });

  it('fails the body, not ends it, when the connection closes mid-body', async () => {
    const gzipped = gzipSync(Buffer.from(LARGE));
    for (const coding of ['gzip', 'identity']) {
      handler = (_req, _body, res) => {
        const bytes = coding === 'gzip' ? gzipped : Buffer.from(LARGE);
        res.writeHead(200, { 'content-encoding': coding, 'content-length': bytes.length });
        res.write(bytes.subarray(0, bytes.length >> 1), () => res.socket?.destroy());
      };
      const response = await nodeFetch(`${base}/snapshot`);
      await expect(response.text()).rejects.toThrow();
    }
  });

  it('closes the connection when the reader cancels a compressed body', async () => {
    const gzipped = gzipSync(Buffer.from(LARGE));
    const closed = new Promise<void>((resolve) => {
      handler = (_req, _body, res) => {
        res.on('close', () => resolve());
        res.writeHead(200, { 'content-encoding': 'gzip' });
        res.write(gzipped.subarray(0, gzipped.length >> 1)); // and keeps the rest
      };
    });
    const response = await nodeFetch(`${base}/snapshot`);
    const reader = response.body!.getReader();
    expect((await reader.read()).done).toBe(false);
    await reader.cancel();
    await closed;
  });

  it('rejects a refused connection with a TypeError that names the cause, as fetch does', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const failure = nodeFetch(`http://127.0.0.1:${port}/`);
    await expect(failure).rejects.toThrow(TypeError);
    await expect(failure).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  });

  it('rejects with the signal reason when it times out before the answer or mid-body', async () => {
    handler = () => undefined; // never answers
    await expect(
      nodeFetch(`${base}/stall`, { signal: AbortSignal.timeout(50) }),
    ).rejects.toMatchObject({ name: 'TimeoutError' });
    handler = (_req, _body, res) => {
      res.writeHead(200);
      res.write('{"first":1}\n'); // and stalls
    };
    const response = await nodeFetch(`${base}/stall-body`, { signal: AbortSignal.timeout(100) });
    expect(response.status).toBe(200);
    await expect(response.text()).rejects.toThrow();
  });

  it('refuses what it does not implement, instead of doing it differently', async () => {
    await expect(nodeFetch(new Request(`${base}/x`))).rejects.toThrow(TypeError);
    await expect(nodeFetch('ftp://127.0.0.1/x')).rejects.toThrow(/not supported/);
    await expect(
      nodeFetch(`${base}/x`, { method: 'POST', body: new Uint8Array([1]) }),
    ).rejects.toThrow(/string body/);
  });
});
