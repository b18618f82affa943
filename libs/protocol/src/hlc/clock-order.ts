import { Ntp64, formatHybrid } from './ntp64';

/** Position of an op in the total order: hybrid first, node (lowercase UUID) as tie-breaker. */
export interface Clock {
  hybrid: Ntp64;
  node: string;
}

/** Sorts before every real op clock (nodes are non-empty UUID strings). */
export const ZERO_CLOCK: Readonly<Clock> = Object.freeze({ hybrid: 0n, node: '' });

export function compareClock(a: Clock, b: Clock): -1 | 0 | 1 {
  if (a.hybrid !== b.hybrid) return a.hybrid < b.hybrid ? -1 : 1;
  if (a.node === b.node) return 0;
  return a.node < b.node ? -1 : 1;
}

/** Key of an op identity (node, hybrid); stable text, usable as a Map key or DB column. */
export function identityKey(node: string, hybrid: Ntp64 | string): string {
  return `${node}@${typeof hybrid === 'string' ? hybrid : formatHybrid(hybrid)}`;
}
