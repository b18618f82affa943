import { MAX_JSON_LIMITS, checkJsonLimits } from '@sync/protocol';
import { decodeMessage, findUnstorableString } from './message-decoder';

const library = '6f1d2c3b-4a59-4e68-8f7a-1b2c3d4e5f60';
const create = {
  type: 'CREATE',
  recordId: 'AAAAAAAA-0000-4000-8000-000000000001',
  model: 'Tag',
  data: { name: 'x' },
  node: '0a0a0a0a-0000-4000-8000-00000000000a',
  timestamp: { hybrid: '7579463712744210432' },
};

function message(key: string | null, value: string | null, offset = '42') {
  return {
    offset,
    key: key === null ? null : Buffer.from(key),
    value: value === null ? null : Buffer.from(value),
  };
}

describe('decodeMessage', () => {
  it('returns the normalised op of a valid message with its library and offset', () => {
    const decoded = decodeMessage(message(library, JSON.stringify(create), '9007199254740993'));
    expect(decoded).toMatchObject({ kind: 'op', libraryId: library, offset: 9007199254740993n });
    if (decoded.kind !== 'op') throw new Error('expected an op');
    expect(decoded.op).toMatchObject({ recordId: create.recordId.toLowerCase(), model: 'Tag' });
  });

  it('leaves schema problems to the merge engine (unknown model is still an op)', () => {
    const decoded = decodeMessage(message(library, JSON.stringify({ ...create, model: 'Nope' })));
    expect(decoded.kind).toBe('op');
  });

  it.each([
    ['MISSING_KEY', null, JSON.stringify(create)],
    ['MISSING_KEY', '', JSON.stringify(create)],
    ['INVALID_KEY', 'library-1', JSON.stringify(create)],
    ['INVALID_KEY', library.toUpperCase(), JSON.stringify(create)],
    ['INVALID_JSON', library, null],
    ['INVALID_JSON', library, '{"type":'],
    ['INVALID_OPERATION', library, '[1,2]'],
    ['INVALID_OPERATION', library, JSON.stringify({ ...create, extra: 1 })],
    ['INVALID_OPERATION', library, JSON.stringify({ ...create, timestamp: { hybrid: 12 } })],
    ['INVALID_OPERATION', library, JSON.stringify({ ...create, data: { name: 'a\u0000b' } })],
  ])('dead-letters %s (key %p)', (reason, key, value) => {
    const decoded = decodeMessage(message(key, value));
    expect(decoded).toMatchObject({ kind: 'dead', reason, offset: 42n });
    if (decoded.kind !== 'dead') throw new Error('expected a dead letter');
    expect(decoded.detail.length).toBeGreaterThan(0);
    // The original bytes travel with the letter.
    expect(decoded.value?.toString() ?? null).toBe(value);
  });
});

describe('decodeMessage on hostile values', () => {
  it('dead-letters invalid UTF-8 instead of decoding it with replacement characters', () => {
    const text = JSON.stringify(create);
    const at = text.indexOf('"x"') + 1;
    const value = Buffer.concat([
      Buffer.from(text.slice(0, at)),
      Buffer.from([0xff]),
      Buffer.from(text.slice(at)),
    ]);
    const decoded = decodeMessage({ offset: '1', key: Buffer.from(library), value });
    expect(decoded).toMatchObject({ kind: 'dead', reason: 'INVALID_JSON' });
  });

  it('dead-letters values nested deeper than the limit without overflowing the stack', () => {
    const deep = JSON.stringify({ ...create, data: { name: 0 } }).replace(
      '"name":0',
      `"name":${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}`,
    );
    expect(decodeMessage(message(library, deep))).toMatchObject({
      kind: 'dead',
      reason: 'INVALID_OPERATION',
    });
  });
});

describe('the JSON limits of a message', () => {
  /** The create op with `data.name` nested so that the op is `depth` levels deep. */
  const nestedTo = (depth: number) => {
    let name: unknown = [];
    for (let level = 3; level < depth; level++) name = [name];
    return { ...create, data: { name } };
  };

  it("are the ingest's widest limits, checked by the same function", () => {
    const { maxDepth } = MAX_JSON_LIMITS;
    expect(decodeMessage(message(library, JSON.stringify(nestedTo(maxDepth))))).toMatchObject({
      kind: 'op',
    });
    const deeper = nestedTo(maxDepth + 1);
    const issues = checkJsonLimits([deeper], MAX_JSON_LIMITS);
    expect(issues).toHaveLength(1);
    expect(decodeMessage(message(library, JSON.stringify(deeper)))).toMatchObject({
      kind: 'dead',
      reason: 'INVALID_OPERATION',
      detail: `${issues[0].path}: ${issues[0].message}`,
    });
  });
});

describe('findUnstorableString', () => {
  it('finds NUL characters and unpaired surrogates anywhere, names included', () => {
    expect(findUnstorableString({ a: ['ok', { b: 'x\u0000' }] })).toMatch(/^a\[1\]\.b: .*U\+0000/);
    expect(findUnstorableString({ ['k\ud800']: 1 })).toMatch(/unpaired surrogate/);
    expect(findUnstorableString('\udc00 low alone')).toMatch(/unpaired surrogate/);
  });

  it('accepts ordinary text, including astral characters', () => {
    expect(
      findUnstorableString({ name: 'emoji \ud83d\ude00 ok', n: 1, nested: [null, true] }),
    ).toBeNull();
  });
});
