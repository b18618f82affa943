import type { ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { constants, createBrotliCompress, createGzip } from 'node:zlib';
import type { FastifyReply } from 'fastify';

export type ContentCoding = 'br' | 'gzip' | 'identity';

/*
 * Cheap settings: a snapshot is tens of MB produced at Postgres speed, so compression must keep
 * up with it on one core. gzip level 1 and brotli quality 1 still shrink NDJSON of UUIDs and
 * clocks about 6 to 8 times; higher levels cost several times the CPU for a few % more.
 */
const GZIP_LEVEL = 1;
const BROTLI_QUALITY = 1;
/*
 * A compressed body goes out in large pieces: the compressor is fed at least COMPRESS_INPUT_BYTES
 * at a time and emits up to COMPRESS_OUTPUT_BYTES per piece, each one HTTP chunk. Fed the ~64 KB
 * a COPY yields, it emitted ~9 KB chunks, and Node's fetch pauses and re-reads its whole socket
 * buffer for every chunk it hands a busy reader: a client decoding a 1M-record snapshot spent
 * more time there than decoding, and its memory grew (issue #20, BENCHMARKS).
 */
const COMPRESS_INPUT_BYTES = 1 << 20;
const COMPRESS_OUTPUT_BYTES = 256 << 10;
/** Our order of preference among codings the client weighs equally. */
const PREFERENCE: readonly ContentCoding[] = ['gzip', 'br', 'identity'];

/**
 * The content coding to answer with, from an Accept-Encoding header (RFC 9110 12.5.3): the
 * client's highest q-value among gzip and br wins, ties go to gzip (cheaper to decode
 * everywhere); `*` stands for codings not named; identity unless something else is acceptable.
 */
export function negotiateEncoding(header: string | undefined): ContentCoding {
  if (header === undefined || header.trim() === '') return 'identity';
  const weights = new Map<string, number>();
  for (const part of header.split(',')) {
    const [rawName, ...params] = part.split(';');
    const name = rawName.trim().toLowerCase();
    if (name === '') continue;
    let q = 1;
    for (const param of params) {
      const [key, value] = param.split('=').map((s) => s.trim().toLowerCase());
      if (key === 'q') q = Number.isFinite(Number(value)) ? Number(value) : 0;
    }
    weights.set(name, q);
  }
  const weight = (coding: ContentCoding) => weights.get(coding) ?? weights.get('*') ?? 0;
  let best: ContentCoding = 'identity';
  let bestWeight = 0;
  for (const coding of PREFERENCE) {
    if (coding === 'identity') break;
    const q = weight(coding);
    if (q > bestWeight) {
      best = coding;
      bestWeight = q;
    }
  }
  return best;
}

/**
 * An NDJSON body written with backpressure, compressed when the request accepts it: a slow
 * reader slows the database reads instead of filling memory. Errors before `start` are for the
 * caller to answer; after it the body can only be cut (`abort`), which a reader tells by a
 * missing trailer line.
 */
export class NdjsonResponse {
  private readonly sink: Writable;
  /** Text waiting to be compressed in one piece (compressed codings only). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  private constructor(
    private readonly res: ServerResponse,
    readonly coding: ContentCoding,
  ) {
    if (coding === 'identity') {
      this.sink = res;
      return;
    }
    const compressor =
      coding === 'gzip'
        ? createGzip({ level: GZIP_LEVEL, chunkSize: COMPRESS_OUTPUT_BYTES })
        : createBrotliCompress({
            chunkSize: COMPRESS_OUTPUT_BYTES,
            params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY },
          });
    compressor.pipe(res);
    compressor.on('error', () => res.destroy());
    res.on('close', () => compressor.destroy());
    this.sink = compressor;
  }

  /** Sends status 200 and the headers (plus `headers`); the body follows with write(). */
  static start(reply: FastifyReply, headers: Record<string, string> = {}): NdjsonResponse {
    const coding = negotiateEncoding(reply.request.headers['accept-encoding']);
    const res = takeRawResponse(reply);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/x-ndjson; charset=utf-8');
    res.setHeader('Cache-Control', 'no-store');
    appendVary(res, 'Accept-Encoding');
    if (coding !== 'identity') res.setHeader('Content-Encoding', coding);
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    return new NdjsonResponse(res, coding);
  }

  /** Writes `text`, waiting while buffers are full. False once the client has gone. */
  write(text: string | Buffer): Promise<boolean> {
    if (this.coding === 'identity') return writeWithBackpressure(this.res, text, this.sink);
    if (this.gone()) return Promise.resolve(false);
    const piece = typeof text === 'string' ? Buffer.from(text) : text;
    this.pending.push(piece);
    this.pendingBytes += piece.length;
    if (this.pendingBytes < COMPRESS_INPUT_BYTES) return Promise.resolve(true);
    return writeWithBackpressure(this.res, this.takePending(), this.sink);
  }

  /** Ends the body (flushing the compressor) and resolves once it is handed to the socket. */
  end(): Promise<void> {
    if (this.gone()) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.res.once('finish', resolve);
      this.res.once('close', resolve);
      this.sink.end(this.takePending());
    });
  }

  private takePending(): Buffer {
    const piece = this.pending.length === 1 ? this.pending[0] : Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    return piece;
  }

  /** Cuts the connection: the reader sees a body without its trailer. */
  abort(): void {
    this.res.destroy();
  }

  private gone(): boolean {
    return gone(this.res, this.sink);
  }
}

/**
 * Takes over the Node response of a streamed answer from Fastify (which then neither sends nor
 * serializes anything for it), carrying over the headers its hooks set (CORS).
 */
export function takeRawResponse(reply: FastifyReply): ServerResponse {
  reply.hijack();
  const res = reply.raw;
  for (const [name, value] of Object.entries(reply.getHeaders())) {
    if (value !== undefined) res.setHeader(name, value);
  }
  return res;
}

/** Adds a name to the Vary header (CORS's `Origin` stays). */
function appendVary(res: ServerResponse, name: string): void {
  const vary = res.getHeader('Vary');
  res.setHeader('Vary', vary === undefined ? name : `${String(vary)}, ${name}`);
}

const gone = (res: ServerResponse, sink: Writable) =>
  res.destroyed || res.writableEnded || sink.destroyed || sink.writableEnded;

/**
 * Writes `chunk` to `sink` (the response, or a compressor in front of it) and waits while its
 * buffer is full, so a slow reader slows the database reads instead of filling memory. False
 * once the client has gone.
 */
export async function writeWithBackpressure(
  res: ServerResponse,
  chunk: string | Buffer,
  sink: Writable = res,
): Promise<boolean> {
  if (gone(res, sink)) return false;
  if (chunk.length === 0 || sink.write(chunk)) return true;
  return new Promise<boolean>((resolve) => {
    const done = (ok: boolean) => {
      sink.off('drain', onDrain);
      res.off('close', onClose);
      resolve(ok);
    };
    const onDrain = () => done(true);
    const onClose = () => done(false);
    sink.on('drain', onDrain);
    res.on('close', onClose);
  });
}
