import fc from 'fast-check';
import { defaultSchema } from '../schema';
import { NODE_A, NODE_B, NODE_C, logged, smallWorldOp } from '../testing';
import {
  CLOCK_DIGITS,
  CompactClocksParser,
  compactClocks,
  parseCompactClocks,
} from './compact-clocks';
import { emptySlice, mergeBatch } from './merge-engine';
import type { FieldWrite } from './merge.types';

/*
 * Compact clocks say what the usual form's `clocks` object says (jsonb's key order, each field's
 * clock), and the parser takes exactly what compactClocks prints.
 */

const schema = defaultSchema();
const opArb = smallWorldOp({ nodes: [NODE_A, NODE_B, NODE_C], maxTick: 30, tags: 3, objects: 3 });

/** The usual form's clocks as Postgres prints them back: names in jsonb's key order. */
function usualForm(fields: Record<string, FieldWrite>): [string, string, string][] {
  return Object.keys(fields)
    .sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))
    .map((name) => [name, fields[name].clock.hybrid.toString(), fields[name].clock.node]);
}

/** The parsed text's clocks per field, in its order. */
function perField(text: string): [string, string, string][] {
  const parsed = parseCompactClocks(text);
  if (parsed === undefined) throw new Error(`not parsed: ${text}`);
  return parsed.names.map((name, i) => {
    const d = CLOCK_DIGITS.indexOf(parsed.picks[i]);
    return [name, parsed.hybrids[d], parsed.nodes[d]];
  });
}

const write = (hybrid: bigint, node = NODE_A): FieldWrite => ({
  value: 1,
  clock: { hybrid, node },
});

describe('compact clocks', () => {
  it("say each field's clock, in jsonb's key order, for rows the engine merges", () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 60 }), (ops) => {
        const slice = mergeBatch(schema, emptySlice(), logged(ops)).slice;
        const rows = [...slice.records.values(), ...slice.relations.values()];
        for (const row of rows) {
          const text = compactClocks(row.fields);
          expect(text).not.toBeNull();
          expect(perField(text as string)).toEqual(usualForm(row.fields));
        }
      }),
      { numRuns: 200 },
    );
  });

  it('list each distinct clock once, numbered by its first field', () => {
    const fields = {
      size: write(5n),
      name: write(7n, NODE_B),
      color: write(5n),
      kind: write(7n, NODE_B),
    };
    expect(compactClocks(fields)).toBe(`kind,name,size,color;0011;7;${NODE_B};5;${NODE_A}`);
    expect(compactClocks({})).toBe(';');
    expect(perField(';')).toEqual([]);
  });

  it('are null where the form cannot hold them', () => {
    expect(compactClocks({ 'a,b': write(1n) })).toBeNull();
    expect(compactClocks({ '1': write(1n) })).toBeNull();
    expect(compactClocks({ name: write(1n, 'a;b') })).toBeNull();
    expect(compactClocks({ name: write(1n, 'a"b') })).toBeNull();
    const many = (n: number) =>
      Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, write(BigInt(i))]));
    expect(compactClocks(many(36))).not.toBeNull();
    expect(compactClocks(many(37))).toBeNull();
  });

  it('parse only what compactClocks prints', () => {
    const good = `kind,name;01;7;${NODE_B};5;${NODE_A}`;
    expect(parseCompactClocks(good)).toEqual({
      names: ['kind', 'name'],
      picks: '01',
      hybrids: ['7', '5'],
      nodes: [NODE_B, NODE_A],
    });
    for (const bad of [
      '',
      'name',
      `name,kind;01;7;${NODE_B};5;${NODE_A}`, // not jsonb's order
      `kind,kind;00;7;${NODE_B}`, // a name twice
      `kind,name;10;7;${NODE_B};5;${NODE_A}`, // clocks not numbered by first use
      `kind,name;00;7;${NODE_B};5;${NODE_A}`, // a clock no field uses
      `kind,name;01;7;${NODE_B};7;${NODE_B}`, // a clock twice
      `kind,name;0;7;${NODE_B}`, // a digit short
      `kind;A;7;${NODE_B}`, // not a digit
      `kind;0;07;${NODE_B}`, // not a canonical hybrid
      `kind;0;18446744073709551616;${NODE_B}`, // past 2^64 - 1
      'kind;0;7;', // no node
      `1;0;7;${NODE_B}`, // a name JSON objects list first
      `kind;0;7;${NODE_B};`, // one part too many
    ]) {
      expect(parseCompactClocks(bad)).toBeUndefined();
      // Remembering valid names and nodes lets nothing else through.
      const parser = new CompactClocksParser();
      expect(parser.parse(good)).toEqual(parseCompactClocks(good));
      expect(parser.parse(bad)).toBeUndefined();
      expect(parser.parse(good)).toEqual(parseCompactClocks(good));
    }
  });

  it('parse what they print for any clocks and names the form holds', () => {
    // One parser for every run: what it remembers from one text never changes another's result.
    const parser = new CompactClocksParser();
    const nameArb = fc.stringMatching(/^[A-Za-z_]\w{0,6}$/);
    fc.assert(
      fc.property(
        fc.uniqueArray(nameArb, { maxLength: 12 }),
        fc.array(
          fc.tuple(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.constantFrom(NODE_A, NODE_B)),
          { minLength: 1, maxLength: 5 },
        ),
        fc.array(fc.nat(), { minLength: 12, maxLength: 12 }),
        (names, clocks, picks) => {
          const fields: Record<string, FieldWrite> = {};
          names.forEach((name, i) => {
            const [hybrid, node] = clocks[picks[i] % clocks.length];
            fields[name] = write(hybrid, node);
          });
          const text = compactClocks(fields) as string;
          expect(perField(text)).toEqual(usualForm(fields));
          expect(parser.parse(text)).toEqual(parseCompactClocks(text));
        },
      ),
      { numRuns: 300 },
    );
  });
});
