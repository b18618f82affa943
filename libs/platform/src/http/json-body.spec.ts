import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { toSyncError } from '../errors/error-mapping';
import { isJsonMediaType, readJsonBody } from './json-body';

/** The contract code a body gets (or the parsed body), as the error filter would answer it. */
async function outcome(
  body: Buffer | string,
  headers: Record<string, string>,
  limit = 64,
): Promise<unknown> {
  const bytes = Buffer.from(body);
  const all = { 'content-length': String(bytes.length), ...headers };
  try {
    return { body: await readJsonBody('POST', all, Readable.from([bytes]), limit) };
  } catch (error) {
    return { code: toSyncError(error).code };
  }
}

const JSON_TYPE = { 'content-type': 'application/json' };

describe('isJsonMediaType', () => {
  it.each([
    ['application/json', true],
    ['Application/JSON; charset=utf-8', true],
    ['application/vnd.sync+json', true],
    ['application/+json', false],
    ['application/jsonx', false],
    ['text/json', false],
    ['json', false],
    ['*/*', false],
  ])('%s: %s', (type, expected) => {
    expect(isJsonMediaType(type)).toBe(expected);
  });
});

describe('readJsonBody', () => {
  it('parses any JSON value, dropping a leading BOM; an empty body is {}', async () => {
    expect(await outcome('[1,{"a":"é"}]', JSON_TYPE)).toEqual({ body: [1, { a: 'é' }] });
    expect(await outcome('\ufeff"x"', JSON_TYPE)).toEqual({ body: 'x' });
    const chunked = { ...JSON_TYPE, 'transfer-encoding': 'chunked' };
    expect(await readJsonBody('POST', chunked, Readable.from([]), 64)).toEqual({});
  });

  it('reads no body when none is declared, whatever the type', async () => {
    const headers = { 'content-type': 'text/plain', 'content-length': '0' };
    expect(await readJsonBody('POST', headers, Readable.from([]), 64)).toBeUndefined();
  });

  it('refuses a body that is not JSON with 415, before reading it', async () => {
    expect(await outcome('[]', { 'content-type': 'text/plain' })).toEqual({
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
    expect(await outcome('[]', {})).toEqual({ code: 'UNSUPPORTED_MEDIA_TYPE' });
    expect(await outcome('[]', { 'content-type': 'application/json; charset=latin1' })).toEqual({
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
  });

  it('takes other JSON types without parsing them, as express.json() does', async () => {
    expect(await outcome('[1]', { 'content-type': 'application/vnd.sync+json' })).toEqual({
      body: undefined,
    });
  });

  it('answers 413 past the limit, declared or received', async () => {
    expect(await outcome(`[${'1,'.repeat(40)}1]`, JSON_TYPE)).toEqual({
      code: 'PAYLOAD_TOO_LARGE',
    });
    const chunked = { ...JSON_TYPE, 'transfer-encoding': 'chunked' };
    const big = Readable.from([Buffer.from('[1,'), Buffer.from(`${'1,'.repeat(40)}1]`)]);
    await expect(readJsonBody('POST', chunked, big, 64)).rejects.toMatchObject({
      type: 'entity.too.large',
      limit: 64,
    });
  });

  it('answers 400 INVALID_JSON for bad JSON, invalid UTF-8 or a short body', async () => {
    expect(await outcome('[1,', JSON_TYPE)).toEqual({ code: 'INVALID_JSON' });
    const invalid = Buffer.concat([
      Buffer.from('["'),
      Buffer.from([0xc3, 0x28]),
      Buffer.from('"]'),
    ]);
    expect(await outcome(invalid, JSON_TYPE)).toEqual({ code: 'INVALID_JSON' });
    expect(await outcome('[1]', { ...JSON_TYPE, 'content-length': '9' })).toEqual({
      code: 'INVALID_JSON',
    });
  });

  it('inflates gzip bodies and refuses unknown encodings with 415', async () => {
    const gzip = { ...JSON_TYPE, 'content-encoding': 'gzip' };
    expect(await outcome(gzipSync('[7]'), gzip)).toEqual({ body: [7] });
    expect(await outcome('not gzip', gzip)).toEqual({ code: 'INVALID_JSON' });
    expect(await outcome('[7]', { ...JSON_TYPE, 'content-encoding': 'x-snappy' })).toEqual({
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
  });
});
