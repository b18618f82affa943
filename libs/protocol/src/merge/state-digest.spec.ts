import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { JsonObject } from '../json';
import { RecordView, RelationView } from './relation-visibility';
import { StateDigest, compareRelationKeys, stateDigest } from './state-digest';

/*
 * The expected text is written out independently of canonicalJson: section 8 spells the line
 * format out, so these specs check the bytes, not that the code agrees with itself.
 */

const sha = (text: string) => `sha256:${createHash('sha256').update(text, 'utf8').digest('hex')}`;

const ID_A = '00000000-0000-4000-8000-00000000000a';
const ID_B = '00000000-0000-4000-8000-00000000000b';

const uuid = fc.uuid().map((id) => id.toLowerCase());
const jsonData: fc.Arbitrary<JsonObject> = fc.dictionary(
  fc.string({ maxLength: 6 }),
  fc.jsonValue({ maxDepth: 2 }) as fc.Arbitrary<JsonObject[string]>,
  { maxKeys: 5 },
);

describe('state digest (CONTRACT.md section 8)', () => {
  it('hashes the empty state as the empty string', () => {
    expect(stateDigest({ records: [], relations: [] })).toEqual({
      digest: 'sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      records: 0,
      relations: 0,
    });
  });

  it('writes one canonical line per record, then per relation, keys sorted, no whitespace', () => {
    const result = stateDigest({
      records: [
        { id: ID_B, model: 'Tag', data: { name: 'b', color: null } },
        { id: ID_A, model: 'Tag', data: { name: 'é"\n', color: '#fff' } },
      ],
      relations: [
        { relation: 'TagOnObject', item: ID_A, group: ID_B, data: { date_created: null } },
      ],
    });
    const expected =
      `{"data":{"color":"#fff","name":"é\\"\\n"},"id":"${ID_A}","model":"Tag"}\n` +
      `{"data":{"color":null,"name":"b"},"id":"${ID_B}","model":"Tag"}\n` +
      `{"data":{"date_created":null},"group":"${ID_B}","item":"${ID_A}","relation":"TagOnObject"}\n`;
    expect(result).toEqual({ digest: sha(expected), records: 2, relations: 1 });
  });

  it('sorts object keys and relation names by UTF-16 code units, not code points', () => {
    // U+FF5E is one code unit 0xFF5E; U+1F600 is the pair 0xD83D 0xDE00, so it sorts first.
    const result = stateDigest({
      records: [{ id: ID_A, model: 'M', data: { '\uff5e': 1, '\u{1f600}': 2, Z: 3, a: 4 } }],
      relations: [],
    });
    expect(result.digest).toBe(
      sha(`{"data":{"Z":3,"a":4,"\u{1f600}":2,"\uff5e":1},"id":"${ID_A}","model":"M"}\n`),
    );
    const relation = (name: string): RelationView => ({
      relation: name,
      item: ID_A,
      group: ID_A,
      data: {},
    });
    expect(compareRelationKeys(relation('\u{1f600}'), relation('\uff5e'))).toBeLessThan(0);
  });

  it('writes numbers and strings as JSON.stringify does', () => {
    const data = { f: 1e21, g: 0.1, h: -0, i: 'tab\tand\u2028' };
    expect(stateDigest({ records: [{ id: ID_A, model: 'M', data }], relations: [] }).digest).toBe(
      sha(`{"data":{"f":1e+21,"g":0.1,"h":0,"i":"tab\\tand\u2028"},"id":"${ID_A}","model":"M"}\n`),
    );
  });

  it('does not depend on the order of keys in data or of the views given', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(
          fc.record({ id: uuid, model: fc.constantFrom('Tag', 'Object'), data: jsonData }),
          {
            selector: (r) => r.id,
            maxLength: 8,
          },
        ),
        fc.uniqueArray(
          fc.record({
            relation: fc.constantFrom('TagOnObject', 'LabelOnObject'),
            item: uuid,
            group: uuid,
            data: jsonData,
          }),
          { selector: (r) => `${r.relation}|${r.item}|${r.group}`, maxLength: 8 },
        ),
        fc.integer(),
        (records: RecordView[], relations: RelationView[], seed) => {
          const reversedKeys = <T extends { data: JsonObject }>(view: T): T => ({
            ...view,
            data: Object.fromEntries(Object.entries(view.data).reverse()),
          });
          const shuffled = <T>(items: T[]) =>
            items
              .map((item, i) => ({ item, k: (i * 7919 + seed) % 101 }))
              .sort((a, b) => a.k - b.k)
              .map((x) => x.item);
          expect(
            stateDigest({
              records: shuffled(records.map(reversedKeys)),
              relations: shuffled(relations.map(reversedKeys)),
            }),
          ).toEqual(stateDigest({ records, relations }));
        },
      ),
    );
  });

  it('streams: fed one view at a time, it equals the hash of all lines at once', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.record({ id: uuid, model: fc.constant('Tag'), data: jsonData }), {
          selector: (r) => r.id,
          maxLength: 10,
        }),
        (records) => {
          const sorted = [...records].sort((a, b) => (a.id < b.id ? -1 : 1));
          const digest = new StateDigest();
          for (const record of sorted) digest.addRecord(record);
          const lines = sorted
            .map((r) => `{"data":${canonicalText(r.data)},"id":"${r.id}","model":"Tag"}\n`)
            .join('');
          expect(digest.finish()).toEqual({
            digest: sha(lines),
            records: records.length,
            relations: 0,
          });
        },
      ),
    );
  });

  it('refuses views out of order', () => {
    const digest = new StateDigest();
    digest.addRecord({ id: ID_B, model: 'Tag', data: {} });
    expect(() => digest.addRecord({ id: ID_A, model: 'Tag', data: {} })).toThrow(/out of order/);
    const rel = { relation: 'TagOnObject', item: ID_B, group: ID_A, data: {} };
    digest.addRelation(rel);
    expect(() => digest.addRelation(rel)).toThrow(/out of order/);
    expect(() => digest.addRecord({ id: ID_B, model: 'Tag', data: {} })).toThrow(/after relations/);
  });
});

/**
 * Section 8's canonical form, written independently: keys sorted by code units at every level
 * (JSON.stringify alone would put integer-like keys first), no whitespace.
 */
function canonicalText(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalText).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort();
  return `{${keys.map((key) => `${JSON.stringify(key)}:${canonicalText(obj[key])}`).join(',')}}`;
}
