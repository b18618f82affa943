import { isUtf8 } from 'node:buffer';
import type { IncomingHttpHeaders } from 'node:http';
import { type Readable, type Transform, finished } from 'node:stream';
import { TextDecoder } from 'node:util';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import { TEXT_PIECE_SIZE } from '@sync/protocol';
import { SyncError } from '../errors/sync-error';
import { parseJsonArrayInPieces } from './json-array-pieces';

/*
 * Reading a JSON request body on the Fastify platform, with the rules the Express platform gets
 * from body-parser: failures are raised in body-parser's vocabulary (`type`, `status`, `expose`),
 * so toSyncError stays the one place that turns them into contract codes.
 */

/** A request carries a body when it declares one (RFC 9112: Content-Length or chunked). */
export function declaresBody(headers: IncomingHttpHeaders): boolean {
  return (
    headers['transfer-encoding'] !== undefined ||
    (headers['content-length'] !== undefined && headers['content-length'] !== '0')
  );
}

const TOKEN = "[!#$%&'*+.^_`|~0-9A-Za-z-]+";
const MEDIA_TYPE = new RegExp(`^(${TOKEN})/(${TOKEN})$`);
const CHARSET = /;\s*charset\s*=\s*(?:"([^"]*)"|([^;\s]*))/i;

function mediaTypeOf(contentType: string): string {
  const semicolon = contentType.indexOf(';');
  return (semicolon === -1 ? contentType : contentType.slice(0, semicolon)).trim().toLowerCase();
}

/** `application/json` or `application/<something>+json`, parameters aside (as type-is matches). */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const match = MEDIA_TYPE.exec(mediaTypeOf(contentType));
  if (match === null || match[1] !== 'application') return false;
  const subtype = match[2];
  return subtype === 'json' || (subtype.length > 5 && subtype.endsWith('+json'));
}

function isPlainJson(contentType: string | undefined): boolean {
  return contentType !== undefined && mediaTypeOf(contentType) === 'application/json';
}

/** Refuses a body that is not declared as JSON (415), before anything of it is read. */
export function requireJsonBody(contentType: string | undefined): void {
  if (!isJsonMediaType(contentType)) {
    throw new SyncError(
      'UNSUPPORTED_MEDIA_TYPE',
      `content type must be application/json, got ${contentType ?? 'none'}`,
    );
  }
}

function bodyError(message: string, fields: Record<string, unknown>): Error {
  return Object.assign(new Error(message), { expose: true, ...fields });
}

/**
 * The decoder of a declared charset other than UTF-8 (undefined for UTF-8, the default). Like
 * body-parser, only `utf-*` charsets are taken (RFC 8259 sec 8.1), here those the WHATWG decoder
 * knows (UTF-16 in either byte order); any other is refused with 415.
 */
function decoderOf(contentType: string | undefined): TextDecoder | undefined {
  const match = contentType === undefined ? null : CHARSET.exec(contentType);
  const charset = (match?.[1] ?? match?.[2])?.toLowerCase();
  if (charset === undefined || charset === 'utf-8') return undefined;
  try {
    if (charset.startsWith('utf-')) return new TextDecoder(charset, { fatal: false });
  } catch {
    // not a charset the decoder knows
  }
  throw bodyError(`unsupported charset "${charset.toUpperCase()}"`, {
    type: 'charset.unsupported',
    status: 415,
  });
}

/** The inflater of the Content-Encoding (gzip, deflate, br, as body-parser takes), if any. */
function inflaterOf(headers: IncomingHttpHeaders): Transform | undefined {
  const encoding = (headers['content-encoding'] ?? 'identity').toLowerCase();
  const inflate =
    encoding === 'identity'
      ? undefined
      : encoding === 'gzip'
        ? createGunzip()
        : encoding === 'deflate'
          ? createInflate()
          : encoding === 'br'
            ? createBrotliDecompress()
            : undefined;
  if (encoding !== 'identity' && inflate === undefined) {
    throw bodyError(`unsupported content encoding "${encoding}"`, {
      type: 'encoding.unsupported',
      status: 415,
    });
  }
  return inflate;
}

/**
 * Reads at most `limit` bytes (after inflating), checks the declared length of an identity body,
 * then parses: invalid UTF-8 is refused rather than replaced with U+FFFD, a leading BOM is
 * dropped, an empty body is `{}` and any JSON value is taken (body-parser with strict: false).
 */
function readJson(
  raw: Readable,
  headers: IncomingHttpHeaders,
  limit: number,
  decoder: TextDecoder | undefined,
): Promise<unknown> {
  const inflate = inflaterOf(headers);
  const stream = inflate === undefined ? raw : raw.pipe(inflate);
  const declared = inflate === undefined ? Number(headers['content-length']) : NaN;
  if (declared > limit) {
    return readOff(raw).then(() => {
      throw bodyError('request entity too large', { type: 'entity.too.large', status: 413, limit });
    });
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let received = 0;
    const finish = (error: Error | undefined, body?: unknown) => {
      stream.off('data', onData).off('end', onEnd).off('error', onError);
      raw.off('aborted', onAborted);
      if (inflate !== undefined) {
        raw.unpipe(inflate);
        inflate.destroy();
      }
      if (error === undefined) resolve(body);
      else void readOff(raw).then(() => reject(error));
    };
    const onData = (chunk: Buffer) => {
      received += chunk.length;
      if (received > limit) {
        finish(
          bodyError('request entity too large', { type: 'entity.too.large', status: 413, limit }),
        );
      } else chunks.push(chunk);
    };
    const onAborted = () =>
      finish(bodyError('request aborted', { type: 'request.aborted', status: 400 }));
    // An inflate failure (not gzip, truncated...): a 400 without a type, as body-parser gives.
    const onError = (error: Error) => finish(Object.assign(error, { status: 400, expose: true }));
    const onEnd = () => {
      if (!Number.isNaN(declared) && received !== declared) {
        return finish(
          bodyError('request size did not match content length', {
            type: 'request.size.invalid',
            status: 400,
          }),
        );
      }
      try {
        finish(undefined, parseJson(Buffer.concat(chunks, received), decoder));
      } catch (error) {
        finish(error as Error);
      }
    };
    stream.on('data', onData).on('end', onEnd).on('error', onError);
    raw.on('aborted', onAborted);
  });
}

/**
 * Reads off (and drops) what is left of a refused request before the answer, as body-parser
 * does, so that the client can finish sending and read the answer instead of a broken pipe.
 */
function readOff(raw: Readable): Promise<void> {
  if (raw.readableEnded) return Promise.resolve();
  return new Promise((resolve) => {
    finished(raw, () => resolve());
    raw.resume();
  });
}

/**
 * The bytes must be UTF-8, whatever the declared charset: a decoder would replace invalid
 * UTF-8 with U+FFFD and silently change the data (400 INVALID_JSON).
 */
export function requireUtf8(body: Buffer): void {
  if (!isUtf8(body)) {
    throw bodyError('request body is not valid UTF-8', {
      type: 'entity.parse.failed',
      status: 400,
    });
  }
}

function parseJson(body: Buffer, decoder: TextDecoder | undefined): unknown {
  const failed = (message: string) =>
    bodyError(message, { type: 'entity.parse.failed', status: 400 });
  requireUtf8(body);
  // A large array (a batch of ops) without one body-sized string; anything else parses whole.
  if (decoder === undefined && body.length > 2 * TEXT_PIECE_SIZE) {
    const elements = parseJsonArrayInPieces(body);
    if (elements !== undefined) return elements;
  }
  const text = decoder === undefined ? body.toString('utf8') : decoder.decode(body);
  const json = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  if (json.length === 0) return {};
  try {
    return JSON.parse(json) as unknown;
  } catch (error) {
    throw failed((error as Error).message);
  }
}

/**
 * The JSON body of a request, or undefined when it declares none (or is an OPTIONS request
 * with another type, which no route reads). Requests with a body must declare it as JSON.
 */
export async function readJsonBody(
  method: string,
  headers: IncomingHttpHeaders,
  raw: Readable,
  limit: number,
): Promise<unknown> {
  if (!declaresBody(headers)) return undefined;
  const contentType = headers['content-type'];
  if (method === 'OPTIONS' && !isJsonMediaType(contentType)) return undefined;
  requireJsonBody(contentType);
  // Like express.json(): other JSON types pass the check above but are not parsed.
  if (!isPlainJson(contentType)) return undefined;
  return readJson(raw, headers, limit, decoderOf(contentType));
}
