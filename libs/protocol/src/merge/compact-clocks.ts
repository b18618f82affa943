import { isCanonicalHybrid } from '../hlc';
import type { FieldWrite } from './merge.types';

/*
 * A row's field clocks as one short line of text, for the snapshot's `clocks=compact` form: the
 * usual form spells every field's clock (`"name":["7576…","9a3c…-…"]`, two thirds of a record's
 * line), though a record's fields share the few clocks of the ops that wrote them. Here:
 *
 *   <name>,<name>,…;<picks>;<hybrid>;<node>;<hybrid>;<node>…
 *
 * names in the order jsonb keeps an object's keys (shorter first, then by bytes: the order of
 * the usual form's `clocks`), then one base-36 digit per name saying which of the row's distinct
 * clocks wrote it, then those clocks, numbered in the order of their first field. One text per
 * set of clocks (the parser refuses any other), so a reader gets the same result from either
 * form. The projector stores it beside the clocks (records.compact_clocks), so Postgres prints
 * it as it is.
 */

/**
 * How a full snapshot's record lines give field clocks (the query's `clocks` parameter): `fields`,
 * an object of each field's [hybrid, node]; `compact`, this text.
 */
export type SnapshotClocks = 'fields' | 'compact';

/** The digits of `picks`: one per field, so a row lists at most this many distinct clocks. */
export const CLOCK_DIGITS = '0123456789abcdefghijklmnopqrstuvwxyz';

/** Field names this form holds: the schema's names; never an array index, a separator or a quote. */
const NAME = /^[A-Za-z_]\w*$/;

/** Nodes this form holds: no separator, quote, backslash or control character. */
function isNode(node: string): boolean {
  if (node.length === 0) return false;
  for (let i = 0; i < node.length; i++) {
    const code = node.charCodeAt(i);
    if (code < 32 || code === 34 || code === 44 || code === 59 || code === 92) return false;
  }
  return true;
}

/** The order of jsonb's object keys, for names matching NAME (ASCII: code units are bytes). */
function jsonbKeyOrder(a: string, b: string): number {
  return a.length - b.length || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * `fields`' clocks as compact text; null when this form cannot hold them (a name or node outside
 * NAME or isNode, more distinct clocks than CLOCK_DIGITS): the reader takes the usual form then.
 */
export function compactClocks(fields: Record<string, FieldWrite>): string | null {
  const names = Object.keys(fields);
  for (const name of names) if (!NAME.test(name)) return null;
  names.sort(jsonbKeyOrder);
  const parts: string[] = [names.join(','), ''];
  let picks = '';
  const distinct: { hybrid: bigint; node: string }[] = [];
  for (const name of names) {
    const { hybrid, node } = fields[name].clock;
    // A scan: a row has a few distinct clocks, one per op that wrote it.
    let k = 0;
    while (k < distinct.length && (distinct[k].hybrid !== hybrid || distinct[k].node !== node)) k++;
    if (k === distinct.length) {
      if (k === CLOCK_DIGITS.length || !isNode(node)) return null;
      distinct.push({ hybrid, node });
      parts.push(hybrid.toString(), node);
    }
    picks += CLOCK_DIGITS[k];
  }
  parts[1] = picks;
  return parts.join(';');
}

/** Compact clocks taken apart: field `names[i]` has the clock `hybrids[d]`, `nodes[d]`, d = digit i of picks. */
export interface ParsedCompactClocks {
  names: string[];
  picks: string;
  hybrids: string[];
  nodes: string[];
}

/** The value of the CLOCK_DIGITS digit at `at` of `text`, or -1 where there is none. */
export function clockDigitAt(text: string, at: number): number {
  const code = text.charCodeAt(at);
  if (code >= 48 && code <= 57) return code - 48;
  if (code >= 97 && code <= 122) return code - 87;
  return -1;
}

/** The names of a compact text's first part, or undefined unless valid and in jsonb's order. */
function parseNames(part: string): string[] | undefined {
  const names = part === '' ? [] : part.split(',');
  for (let i = 0; i < names.length; i++) {
    if (!NAME.test(names[i]) || (i > 0 && jsonbKeyOrder(names[i - 1], names[i]) >= 0)) {
      return undefined;
    }
  }
  return names;
}

/** `text` taken apart, or undefined unless it is exactly what compactClocks prints. */
export function parseCompactClocks(text: string): ParsedCompactClocks | undefined {
  return parseWith(text, parseNames, isNode);
}

function parseWith(
  text: string,
  namesOf: (part: string) => string[] | undefined,
  nodeOk: (node: string) => boolean,
): ParsedCompactClocks | undefined {
  const parts = text.split(';');
  if (parts.length < 2 || parts.length % 2 !== 0) return undefined;
  const names = namesOf(parts[0]);
  const picks = parts[1];
  const count = (parts.length - 2) / 2;
  if (names === undefined || picks.length !== names.length || count > CLOCK_DIGITS.length) {
    return undefined;
  }
  // Clocks numbered by their first field, every one used.
  let next = 0;
  for (let i = 0; i < picks.length; i++) {
    const digit = clockDigitAt(picks, i);
    if (digit < 0 || digit > next) return undefined;
    if (digit === next) next++;
  }
  if (next !== count) return undefined;
  const hybrids: string[] = [];
  const nodes: string[] = [];
  for (let at = 2; at < parts.length; at += 2) {
    if (!isCanonicalHybrid(parts[at]) || !nodeOk(parts[at + 1])) return undefined;
    for (let k = 0; k < hybrids.length; k++) {
      if (hybrids[k] === parts[at] && nodes[k] === parts[at + 1]) return undefined;
    }
    hybrids.push(parts[at]);
    nodes.push(parts[at + 1]);
  }
  return { names, picks, hybrids, nodes };
}

/** Name lists and nodes a CompactClocksParser remembers as valid, at most. */
const REMEMBERED = 1024;

/**
 * parseCompactClocks for a stream of rows, remembering what repeats from one to the next: the
 * lists of names (a library has a few shapes of row; their arrays are shared between results,
 * so do not mutate them), the nodes (a library has a few), and the last text with its result.
 */
export class CompactClocksParser {
  private readonly nameLists = new Map<string, string[]>();
  private readonly nodes = new Set<string>();
  private lastText: string | undefined;
  private lastResult: ParsedCompactClocks | undefined;

  parse(text: string): ParsedCompactClocks | undefined {
    if (text !== this.lastText) {
      this.lastResult = parseWith(text, this.namesOf, this.nodeOk);
      this.lastText = text;
    }
    return this.lastResult;
  }

  private readonly namesOf = (part: string): string[] | undefined => {
    let names = this.nameLists.get(part);
    if (names === undefined) {
      names = parseNames(part);
      if (names !== undefined && this.nameLists.size < REMEMBERED) this.nameLists.set(part, names);
    }
    return names;
  };

  private readonly nodeOk = (node: string): boolean => {
    if (this.nodes.has(node)) return true;
    if (!isNode(node)) return false;
    if (this.nodes.size < REMEMBERED) this.nodes.add(node);
    return true;
  };
}
