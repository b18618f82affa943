import { request as httpRequest } from 'node:http';
import { formatHybrid, hybridFromMillis } from '@sync/protocol';
import { INGEST_PUBLISH_CLIENT_TIMEOUT_MS } from '../../support/client-timeouts';
import { prng, randomUuid } from './workload';

/*
 * Generated hostile input: HTTP requests for the ingest (scenario 6a) and raw Kafka messages for
 * the projector (scenario 6b). Each case says what it is and which answers are acceptable.
 */

export interface HostileRequest {
  category: string;
  label: string;
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer;
  /** Acceptable contract codes (status follows from the code). */
  expect: string[];
}

const STATUS: Record<string, number> = {
  INVALID_JSON: 400,
  INVALID_LIBRARY_ID: 400,
  NOT_AN_ARRAY: 400,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  VALIDATION_FAILED: 422,
};

export function statusOf(code: string): number {
  const status = STATUS[code];
  if (status === undefined) throw new Error(`no status for ${code}`);
  return status;
}

const JSON_TYPE = { 'content-type': 'application/json' };

/** A valid op of each shape, to be broken one property at a time. */
function validOps(random: () => number): Record<string, unknown>[] {
  const node = randomUuid(random);
  const hybrid = () => formatHybrid(hybridFromMillis(Date.now() - 1000, Math.floor(random() * 16)));
  const keys = {
    relationItem: randomUuid(random),
    relationGroup: randomUuid(random),
    relation: 'TagOnObject',
  };
  return [
    {
      type: 'CREATE',
      recordId: randomUuid(random),
      model: 'Tag',
      data: { name: 'n', is_hidden: false },
      node,
      timestamp: { hybrid: hybrid() },
    },
    {
      type: 'UPDATE',
      recordId: randomUuid(random),
      model: 'Object',
      field: 'kind',
      value: 3,
      node,
      timestamp: { hybrid: hybrid() },
    },
    { type: 'DELETE', recordId: randomUuid(random), node, timestamp: { hybrid: hybrid() } },
    {
      type: 'CREATE',
      ...keys,
      data: { date_created: '2024-01-01T00:00:00Z' },
      node,
      timestamp: { hybrid: hybrid() },
    },
    {
      type: 'UPDATE',
      ...keys,
      field: 'date_created',
      value: null,
      node,
      timestamp: { hybrid: hybrid() },
    },
    { type: 'DELETE', ...keys, node, timestamp: { hybrid: hybrid() } },
  ];
}

/** Ways to make one op invalid (each yields a JSON value that is not a valid op). */
const OP_MUTATIONS: [string, (op: Record<string, unknown>) => unknown][] = [
  ['type missing', ({ type: _t, ...rest }) => rest],
  ['type unknown', (op) => ({ ...op, type: 'UPSERT' })],
  ['type lowercase', (op) => ({ ...op, type: String(op.type).toLowerCase() })],
  ['type a number', (op) => ({ ...op, type: 1 })],
  ['hybrid a JSON number', (op) => ({ ...op, timestamp: { hybrid: 1764000000 } })],
  [
    'hybrid with a leading zero',
    (op) => ({ ...op, timestamp: { hybrid: `0${(op.timestamp as { hybrid: string }).hybrid}` } }),
  ],
  ['hybrid above 2^64-1', (op) => ({ ...op, timestamp: { hybrid: '18446744073709551616' } })],
  ['hybrid negative', (op) => ({ ...op, timestamp: { hybrid: '-5' } })],
  ['hybrid hexadecimal', (op) => ({ ...op, timestamp: { hybrid: '0x10' } })],
  ['timestamp missing', ({ timestamp: _t, ...rest }) => rest],
  ['timestamp a string', (op) => ({ ...op, timestamp: '2024-01-01' })],
  [
    'timestamp with extra key',
    (op) => ({ ...op, timestamp: { ...(op.timestamp as object), logical: 1 } }),
  ],
  ['node not a UUID', (op) => ({ ...op, node: 'node-1' })],
  ['node missing', ({ node: _n, ...rest }) => rest],
  ['node an object', (op) => ({ ...op, node: { id: 1 } })],
  ['unknown property', (op) => ({ ...op, extra: true })],
  [
    '__proto__ property',
    (op) =>
      JSON.parse(JSON.stringify(op).replace(/^\{/, '{"__proto__":{"polluted":1},')) as unknown,
  ],
  ['constructor property', (op) => ({ ...op, constructor: { prototype: {} } })],
  [
    'record and relation keys mixed',
    (op) => ({
      ...op,
      recordId: randomUuid(prng(1)),
      relation: 'TagOnObject',
      relationItem: randomUuid(prng(2)),
      relationGroup: randomUuid(prng(3)),
    }),
  ],
  ['recordId a number', (op) => ({ ...op, recordId: 12, relation: undefined })],
  ['op is null', () => null],
  ['op is a number', () => 7],
  ['op is a string', (op) => JSON.stringify(op)],
  ['op is an array', (op) => [op]],
  ['op is an empty object', () => ({})],
];

const RECORD_MUTATIONS: [string, (op: Record<string, unknown>) => unknown][] = [
  ['model unknown', (op) => ({ ...op, model: 'Photo' })],
  [
    'field unknown',
    (op) => ({ ...op, type: 'UPDATE', data: undefined, field: 'colour', value: 'red' }),
  ],
  [
    'int field given a string',
    (op) => ({
      ...op,
      type: 'UPDATE',
      model: 'Object',
      data: undefined,
      field: 'kind',
      value: 'three',
    }),
  ],
  [
    'int field given a float',
    (op) => ({
      ...op,
      type: 'UPDATE',
      model: 'Object',
      data: undefined,
      field: 'kind',
      value: 1.5,
    }),
  ],
  [
    'int field beyond 2^53',
    (op) => ({
      ...op,
      type: 'UPDATE',
      model: 'Object',
      data: undefined,
      field: 'kind',
      value: 2 ** 60,
    }),
  ],
  [
    'bool field given a string',
    (op) => ({
      ...op,
      type: 'UPDATE',
      model: 'Tag',
      data: undefined,
      field: 'is_hidden',
      value: 'yes',
    }),
  ],
  [
    'datetime field not ISO-8601',
    (op) => ({
      ...op,
      type: 'UPDATE',
      model: 'Tag',
      data: undefined,
      field: 'date_created',
      value: 'yesterday',
    }),
  ],
  ['data an array', (op) => ({ ...op, type: 'CREATE', model: 'Tag', data: [1, 2] })],
  ['data a string', (op) => ({ ...op, type: 'CREATE', model: 'Tag', data: 'name=x' })],
  ['CREATE without model', (op) => ({ ...op, type: 'CREATE', model: undefined, data: {} })],
  [
    'UPDATE without value',
    (op) => ({
      ...op,
      type: 'UPDATE',
      model: 'Tag',
      data: undefined,
      field: 'name',
      value: undefined,
    }),
  ],
  ['DELETE with data', (op) => ({ ...op, type: 'DELETE', data: { name: 'x' } })],
  [
    'string with NUL (unstorable)',
    (op) => ({ ...op, type: 'CREATE', model: 'Tag', data: { name: 'a\u0000b' } }),
  ],
  [
    'string with a lone surrogate (unstorable)',
    (op) => ({ ...op, type: 'CREATE', model: 'Tag', data: { name: 'a\ud800b' } }),
  ],
];

function jsonBody(value: unknown): Buffer {
  // JSON.stringify escapes lone surrogates (\ud800) and NUL (\u0000), as a client would.
  return Buffer.from(JSON.stringify(value), 'utf8');
}

/** Deterministic list of at least 200 hostile requests for POST /libraries/{id}/operations. */
export function hostileRequests(seed: number, maxBodyBytes: number): HostileRequest[] {
  const random = prng(seed);
  const cases: HostileRequest[] = [];
  const library = randomUuid(random);
  const path = `/libraries/${library}/operations`;
  const add = (
    category: string,
    label: string,
    body: Buffer,
    expect: string[],
    extra: Partial<HostileRequest> = {},
  ) =>
    cases.push({
      category,
      label,
      method: 'POST',
      path,
      headers: { ...JSON_TYPE },
      body,
      expect,
      ...extra,
    });
  const batch = () => validOps(random);

  // Fuzzed JSON: valid bodies cut short, bytes flipped, garbage and near-JSON.
  const valid = JSON.stringify(batch());
  for (let i = 0; i < 30; i++) {
    const cut = 1 + Math.floor(random() * (valid.length - 2));
    add('fuzzed JSON', `truncated at ${cut}`, Buffer.from(valid.slice(0, cut)), ['INVALID_JSON']);
  }
  const structural = ['{', '}', '[', ']', ':', ',', '"'];
  for (let i = 0; i < 20; i++) {
    const chars = [...valid];
    const at = Math.floor(random() * chars.length);
    // Swap a structural character for another one that breaks the syntax at that spot.
    chars.splice(at, 0, structural[Math.floor(random() * structural.length)], '}');
    const text = chars.join('');
    if (isJson(text)) continue;
    add('fuzzed JSON', `structural characters inserted at ${at}`, Buffer.from(text), [
      'INVALID_JSON',
    ]);
  }
  for (const text of [
    "[{'type':'CREATE'}]",
    '[NaN]',
    '[Infinity]',
    '[undefined]',
    '[1,]',
    '[{"a":1,}]',
    '// comment\n[]',
    '[] []',
    '[{"type":"CREATE"}]garbage',
    '["unterminated]',
    '["bad escape \\x41"]',
    '[0x10]',
    '[.5]',
    '[01]',
    '\u0000',
  ]) {
    add('fuzzed JSON', `near-JSON ${JSON.stringify(text).slice(0, 30)}`, Buffer.from(text), [
      'INVALID_JSON',
    ]);
  }
  for (let i = 0; i < 10; i++) {
    const bytes = Buffer.from(
      Array.from({ length: 1 + Math.floor(random() * 400) }, () => Math.floor(random() * 256)),
    );
    if (isJson(bytes.toString('utf8'))) continue;
    add('fuzzed JSON', `${bytes.length} random bytes`, bytes, ['INVALID_JSON']);
  }

  // Valid JSON, wrong top-level type.
  for (const value of [
    {},
    { operations: batch() },
    null,
    true,
    false,
    0,
    42,
    -1.5,
    'ops',
    '',
    batch()[0],
  ]) {
    add('wrong types', `top level ${JSON.stringify(value)?.slice(0, 30)}`, jsonBody(value), [
      'NOT_AN_ARRAY',
    ]);
  }
  add('wrong types', 'empty array', jsonBody([]), ['VALIDATION_FAILED']);

  // One op of an otherwise valid batch broken in one way (all or nothing: 422, none published).
  for (const [label, mutate] of [...OP_MUTATIONS, ...RECORD_MUTATIONS]) {
    const ops: unknown[] = batch();
    const index = RECORD_MUTATIONS.some(([l]) => l === label)
      ? 0
      : Math.floor(random() * ops.length);
    ops[index] = mutate(ops[index] as Record<string, unknown>);
    add('wrong types', label, jsonBody(ops), ['VALIDATION_FAILED']);
    // The same mutation on another shape, for the shape-independent ones.
    if (OP_MUTATIONS.some(([l]) => l === label)) {
      const other: unknown[] = batch();
      const at = (index + 3) % other.length;
      other[at] = mutate(other[at] as Record<string, unknown>);
      add('wrong types', `${label} (shape ${at})`, jsonBody(other), ['VALIDATION_FAILED']);
    }
  }

  // Huge strings where no value that long is valid.
  const huge = (n: number) => 'x'.repeat(n);
  for (const [label, mutate] of [
    ['recordId of 1 MB', (op: Record<string, unknown>) => ({ ...op, recordId: huge(1 << 20) })],
    ['model name of 512 kB', (op: Record<string, unknown>) => ({ ...op, model: huge(1 << 19) })],
    ['type of 1 MB', (op: Record<string, unknown>) => ({ ...op, type: huge(1 << 20) })],
    [
      'hybrid of 100,000 digits',
      (op: Record<string, unknown>) => ({ ...op, timestamp: { hybrid: '9'.repeat(100_000) } }),
    ],
    ['node of 1 MB', (op: Record<string, unknown>) => ({ ...op, node: huge(1 << 20) })],
    ['property name of 1 MB', (op: Record<string, unknown>) => ({ ...op, [huge(1 << 20)]: 1 })],
    [
      'data field name of 256 kB',
      (op: Record<string, unknown>) => ({ ...op, data: { [huge(1 << 18)]: 'x' } }),
    ],
    [
      'bool field given 2 MB of text',
      (op: Record<string, unknown>) => ({ ...op, data: { is_hidden: huge(2 << 20) } }),
    ],
    ['relation name of 1 MB', () => ({ ...batch()[3], relation: huge(1 << 20) })],
    ['UPDATE field name of 1 MB', () => ({ ...batch()[1], field: huge(1 << 20) })],
  ] as const) {
    const ops: unknown[] = batch();
    ops[0] = mutate(ops[0] as Record<string, unknown>);
    add('huge strings', label, jsonBody(ops), ['VALIDATION_FAILED']);
  }
  add('huge strings', 'one 9 MB string as the body', jsonBody(huge(9 << 20)), ['NOT_AN_ARRAY']);
  add(
    'huge strings',
    '5,000 ops with 1 kB unknown keys',
    jsonBody(Array.from({ length: 5000 }, () => ({ [huge(1024)]: 1 }))),
    ['VALIDATION_FAILED'],
  );

  // Deep nesting: the parser or the validator must refuse it, not overflow a stack.
  for (const depth of [1_000, 10_000, 100_000, 500_000]) {
    add(
      'deep nesting',
      `array nested ${depth} deep`,
      Buffer.from(`${'['.repeat(depth)}${']'.repeat(depth)}`),
      ['INVALID_JSON', 'VALIDATION_FAILED'],
    );
    const nested = `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;
    const op = JSON.stringify(batch()[0]);
    add(
      'deep nesting',
      `data value nested ${depth} deep`,
      Buffer.from(`[${op.replace('"data":{', `"data":{"color":${nested},`)}]`),
      ['INVALID_JSON', 'VALIDATION_FAILED'],
    );
    add(
      'deep nesting',
      `unknown property nested ${depth} deep`,
      Buffer.from(`[${op.replace(/^\{/, `{"deep":${nested},`)}]`),
      ['INVALID_JSON', 'VALIDATION_FAILED'],
    );
    add('deep nesting', `unclosed nesting ${depth} deep`, Buffer.from('['.repeat(depth)), [
      'INVALID_JSON',
    ]);
  }

  // Invalid UTF-8 (RFC 8259: JSON text is UTF-8; such a body is not JSON). Placed where a
  // string is otherwise valid, so decoding it with replacement characters would be accepted.
  const invalidSequences: [string, number[]][] = [
    ['lone continuation byte', [0x80]],
    ['0xFF byte', [0xff]],
    ['truncated 2-byte sequence', [0xc3]],
    ['bad continuation', [0xc3, 0x28]],
    ['overlong slash', [0xc0, 0xaf]],
    ['UTF-8 encoded surrogate', [0xed, 0xa0, 0x80]],
    ['beyond U+10FFFF', [0xf4, 0x90, 0x80, 0x80]],
    ['truncated 4-byte sequence', [0xf0, 0x9f, 0x98]],
  ];
  for (const [label, bytes] of invalidSequences) {
    const ops = batch();
    const text = JSON.stringify(ops);
    const at = text.indexOf('"n"') + 2; // inside data.name of the first op
    add(
      'invalid UTF-8',
      `${label} in a string value`,
      Buffer.concat([
        Buffer.from(text.slice(0, at)),
        Buffer.from(bytes),
        Buffer.from(text.slice(at)),
      ]),
      ['INVALID_JSON'],
    );
    const keyAt = text.indexOf('"type"') + 1;
    add(
      'invalid UTF-8',
      `${label} in a property name`,
      Buffer.concat([
        Buffer.from(text.slice(0, keyAt)),
        Buffer.from(bytes),
        Buffer.from(text.slice(keyAt)),
      ]),
      ['INVALID_JSON', 'VALIDATION_FAILED'],
    );
  }

  // Wrong content types: refused before parsing, whatever the body.
  const body = jsonBody(batch());
  for (const type of [
    'text/plain',
    'text/json',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=xyz',
    'application/xml',
    'application/octet-stream',
    'application/jsonx',
    'image/png',
    'application/json; charset=latin1',
    'json',
    '*/*',
  ]) {
    add('wrong content type', type, body, ['UNSUPPORTED_MEDIA_TYPE'], {
      headers: { 'content-type': type },
    });
  }
  add('wrong content type', 'no content type', body, ['UNSUPPORTED_MEDIA_TYPE'], { headers: {} });
  // UTF-16 is a JSON charset body-parser decodes: UTF-8 bytes read as UTF-16 are not JSON.
  add(
    'wrong content type',
    'UTF-8 bytes declared as UTF-16',
    body,
    ['UNSUPPORTED_MEDIA_TYPE', 'INVALID_JSON'],
    {
      headers: { 'content-type': 'application/json; charset=utf-16' },
    },
  );
  add(
    'wrong content type',
    'gzip-encoded garbage',
    Buffer.from('not gzip at all'),
    ['UNSUPPORTED_MEDIA_TYPE', 'INVALID_JSON'],
    {
      headers: { ...JSON_TYPE, 'content-encoding': 'gzip' },
    },
  );
  add('wrong content type', 'unknown content encoding', body, ['UNSUPPORTED_MEDIA_TYPE'], {
    headers: { ...JSON_TYPE, 'content-encoding': 'x-snappy' },
  });

  // Oversized: too many bytes, too many ops.
  const big = JSON.stringify({
    type: 'DELETE',
    recordId: randomUuid(random),
    node: randomUuid(random),
    timestamp: { hybrid: '1' },
  });
  const over = Math.ceil((maxBodyBytes + 1024) / (big.length + 1));
  add(
    'oversized',
    `${over} ops, just over the body limit`,
    Buffer.from(`[${Array(over).fill(big).join(',')}]`),
    ['PAYLOAD_TOO_LARGE'],
  );
  add('oversized', 'body twice the limit', Buffer.from(`["${'y'.repeat(maxBodyBytes * 2)}"]`), [
    'PAYLOAD_TOO_LARGE',
  ]);
  add('oversized', '10,001 ops', jsonBody(Array.from({ length: 10_001 }, () => ({}))), [
    'PAYLOAD_TOO_LARGE',
  ]);
  add(
    'oversized',
    '10,001 ops, chunked',
    jsonBody(Array.from({ length: 10_001 }, () => 0)),
    ['PAYLOAD_TOO_LARGE'],
    {
      headers: { ...JSON_TYPE, 'transfer-encoding': 'chunked' },
    },
  );
  add(
    'oversized',
    'over the limit, chunked',
    Buffer.from(`[${'1,'.repeat(maxBodyBytes)}1]`),
    ['PAYLOAD_TOO_LARGE'],
    {
      headers: { ...JSON_TYPE, 'transfer-encoding': 'chunked' },
    },
  );

  // Bad library ids in the path (a valid batch).
  for (const id of [
    'not-a-uuid',
    '123',
    `{${randomUuid(random)}}`,
    `${randomUuid(random)}0`,
    randomUuid(random).replace(/-/g, ''),
    randomUuid(random).slice(0, 35),
    `${randomUuid(random).slice(0, 35)}g`,
    '%00',
    '%E2%98%83',
    'null',
    '..',
    `${'a'.repeat(5000)}`,
    '%ff%fe',
  ]) {
    add('bad library id', id.slice(0, 40), body, ['INVALID_LIBRARY_ID'], {
      path: `/libraries/${id}/operations`,
    });
  }
  for (const [label, method, p] of [
    ['PUT on the batch path', 'PUT', path],
    ['DELETE on the batch path', 'DELETE', path],
    ['PATCH on the batch path', 'PATCH', path],
    ['POST below the batch path', 'POST', `${path}/extra`],
    ['POST to /libraries', 'POST', '/libraries'],
  ] as const) {
    add('wrong route', label, body, ['NOT_FOUND'], { method, path: p });
  }
  return cases;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

export interface RawAnswer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** A raw HTTP request (full control over headers and bytes); status 0 when no answer came. */
export function rawRequest(
  base: string,
  req: Pick<HostileRequest, 'method' | 'path' | 'headers' | 'body'>,
  timeoutMs = INGEST_PUBLISH_CLIENT_TIMEOUT_MS,
): Promise<RawAnswer> {
  const url = new URL(base);
  return new Promise((resolve) => {
    const chunked = req.headers['transfer-encoding'] === 'chunked';
    const headers: Record<string, string | number> = { ...req.headers };
    if (!chunked) headers['content-length'] = req.body.length;
    const client = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers,
        timeout: timeoutMs,
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            body: Buffer.concat(chunks).toString('utf8'),
            headers: response.headers,
          }),
        );
        response.on('error', () => resolve({ status: 0, body: 'response error', headers: {} }));
      },
    );
    client.on('timeout', () => client.destroy(new Error('timeout')));
    client.on('error', (error) =>
      resolve({ status: 0, body: `request error: ${error.message}`, headers: {} }),
    );
    if (chunked) {
      for (let i = 0; i < req.body.length; i += 64 * 1024)
        client.write(req.body.subarray(i, i + 64 * 1024));
      client.end();
    } else client.end(req.body);
  });
}

export interface PoisonMessage {
  label: string;
  /** null = no key. */
  key: Buffer | null;
  value: Buffer | null;
  /** Dead-letter reasons that are right for it. */
  reasons: string[];
}

/**
 * Kafka messages that are not ops (contract D3: they belong in the dead-letter topic), keyed
 * with `library` unless the key itself is the problem.
 */
export function poisonMessages(seed: number, library: string): PoisonMessage[] {
  const random = prng(seed);
  const key = Buffer.from(library);
  const op = validOps(random)[0];
  const text = JSON.stringify(op);
  const list: PoisonMessage[] = [];
  const add = (
    label: string,
    value: Buffer | string | null,
    reasons: string[],
    k: Buffer | null = key,
  ) =>
    list.push({
      label,
      key: k,
      value: typeof value === 'string' ? Buffer.from(value) : value,
      reasons,
    });

  add('no key', text, ['MISSING_KEY'], null);
  add('empty key', text, ['MISSING_KEY'], Buffer.alloc(0));
  add('key not a UUID', text, ['INVALID_KEY'], Buffer.from('library-1'));
  add('key in uppercase', text, ['INVALID_KEY'], Buffer.from(library.toUpperCase()));
  add('key with a trailing space', text, ['INVALID_KEY'], Buffer.from(`${library} `));
  add('key of invalid UTF-8', text, ['INVALID_KEY'], Buffer.from([0xff, 0xfe, 0x00]));
  add('null value (tombstone)', null, ['INVALID_JSON']);
  add('empty value', '', ['INVALID_JSON']);
  for (let i = 0; i < 6; i++) {
    add(`op truncated (${i})`, text.slice(0, 1 + Math.floor(random() * (text.length - 2))), [
      'INVALID_JSON',
    ]);
  }
  add('random bytes', Buffer.from(Array.from({ length: 64 }, () => Math.floor(random() * 256))), [
    'INVALID_JSON',
  ]);
  add('single quotes', text.replace(/"/g, "'"), ['INVALID_JSON']);
  for (const [label, value] of [
    ['JSON array of an op', `[${text}]`],
    ['JSON number', '42'],
    ['JSON string', '"CREATE"'],
    ['JSON null', 'null'],
    ['JSON empty object', '{}'],
    ['unknown property', JSON.stringify({ ...op, extra: 1 })],
    ['hybrid as a JSON number', JSON.stringify({ ...op, timestamp: { hybrid: 1 } })],
    ['recordId a number', JSON.stringify({ ...op, recordId: 5 })],
    [
      'record and relation keys mixed',
      JSON.stringify({
        ...op,
        relation: 'TagOnObject',
        relationItem: library,
        relationGroup: library,
      }),
    ],
    ['recordId of 1 MB', JSON.stringify({ ...op, recordId: 'x'.repeat(1 << 20) })],
    ['array nested 100,000 deep', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['string with NUL', JSON.stringify({ ...op, data: { name: 'a\u0000b' } })],
    ['string with a lone surrogate', JSON.stringify({ ...op, data: { name: 'a\ud800b' } })],
  ] as const) {
    add(label, value, ['INVALID_OPERATION']);
  }
  const at = text.indexOf('"n"') + 2;
  for (const [label, bytes] of [
    ['0xFF byte in a string value', [0xff]],
    ['UTF-8 encoded surrogate in a string value', [0xed, 0xa0, 0x80]],
    ['truncated 2-byte sequence in a string value', [0xc3]],
  ] as const) {
    add(
      `invalid UTF-8: ${label}`,
      Buffer.concat([
        Buffer.from(text.slice(0, at)),
        Buffer.from(bytes),
        Buffer.from(text.slice(at)),
      ]),
      ['INVALID_JSON', 'INVALID_OPERATION'],
    );
  }
  return list;
}
