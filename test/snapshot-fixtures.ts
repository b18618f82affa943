import type { INestApplication } from '@nestjs/common';
import { clockDigitAt, formatHybrid, hybridFromMillis, parseCompactClocks } from '@sync/protocol';
import type { TestTopics } from './support/test-env';
import { startTestStack } from './support/test-stack';

/**
 * ingest -> real Kafka -> projector -> real Postgres -> query, in-process but listening on real
 * ports (the CLI runs as a child process; SSE is read with a real HTTP client).
 */
export interface Pipeline {
  ingestUrl: string;
  queryUrl: string;
  topics: TestTopics;
  env: Record<string, string>;
  query: INestApplication;
  post(libraryId: string, ops: unknown[]): Promise<{ partition: number; lastOffset: string }>;
  getJson<T = unknown>(path: string): Promise<T>;
  close(): Promise<void>;
}

export async function startPipeline(
  prefix: string,
  partitions = 2,
  extraEnv: Record<string, string> = {},
): Promise<Pipeline> {
  const stack = await startTestStack(prefix, {
    partitions,
    env: { SYNC_AUTH_DISABLED: 'true', ...extraEnv },
  });
  const { ingestUrl, queryUrl } = stack;
  return {
    ingestUrl,
    queryUrl,
    topics: stack.topics,
    env: stack.env,
    query: stack.query,
    async post(libraryId, ops) {
      const res = await fetch(`${ingestUrl}/libraries/${libraryId}/operations`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(ops),
      });
      const body = (await res.json()) as { partition: number; lastOffset: string };
      if (res.status !== 202) throw new Error(`POST ${res.status}: ${JSON.stringify(body)}`);
      return body;
    },
    async getJson<T>(path: string) {
      const res = await fetch(`${queryUrl}${path}`);
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${await res.text()}`);
      return (await res.json()) as T;
    },
    close: () => stack.close(),
  };
}

let lastMillis = 0;
let counter = 0;
/** Increasing hybrids near now (the ingest refuses clocks far ahead of its own). */
export function hybrid(): string {
  const now = Date.now();
  if (now > lastMillis) {
    lastMillis = now;
    counter = 0;
  }
  return formatHybrid(hybridFromMillis(lastMillis) + BigInt(counter++));
}

export const op = {
  create: (node: string, recordId: string, model: string, data: Record<string, unknown>) => ({
    type: 'CREATE',
    recordId,
    model,
    data,
    node,
    timestamp: { hybrid: hybrid() },
  }),
  update: (node: string, recordId: string, field: string, value: unknown) => ({
    type: 'UPDATE',
    recordId,
    field,
    value,
    node,
    timestamp: { hybrid: hybrid() },
  }),
  remove: (node: string, recordId: string) => ({
    type: 'DELETE',
    recordId,
    node,
    timestamp: { hybrid: hybrid() },
  }),
  link: (node: string, relation: string, item: string, group: string, data?: object) => ({
    type: 'CREATE',
    relationItem: item,
    relationGroup: group,
    relation,
    ...(data ? { data } : {}),
    node,
    timestamp: { hybrid: hybrid() },
  }),
  unlink: (node: string, relation: string, item: string, group: string) => ({
    type: 'DELETE',
    relationItem: item,
    relationGroup: group,
    relation,
    node,
    timestamp: { hybrid: hybrid() },
  }),
};

/** Every entry of the feed after `after` (exclusive), following nextCursor. */
export async function readFeed(
  pipeline: Pipeline,
  libraryId: string,
  after: string | null,
  minOffset?: string,
): Promise<{ offset: string; operation: Record<string, unknown> }[]> {
  const entries: { offset: string; operation: Record<string, unknown> }[] = [];
  let cursor: string | null = null;
  do {
    const params = new URLSearchParams({ limit: '1000' });
    if (after !== null) params.set('after', after);
    if (cursor !== null) params.set('cursor', cursor);
    if (minOffset !== undefined) params.set('minOffset', minOffset);
    params.set('waitMs', '20000');
    const page: {
      items: { offset: string; operation: Record<string, unknown> }[];
      nextCursor: string | null;
    } = await pipeline.getJson(`/libraries/${libraryId}/operations?${params.toString()}`);
    entries.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== null);
  return entries;
}

/**
 * A snapshot line's `clocks` as the usual form gives them (an object of [hybrid, node] per
 * field), whichever form the line has (`clocks=compact` gives a string).
 */
export function usualClocks(clocks: unknown): unknown {
  if (typeof clocks !== 'string') return clocks;
  const parsed = parseCompactClocks(clocks);
  if (parsed === undefined) throw new Error(`malformed compact clocks ${clocks}`);
  const { names, picks, hybrids, nodes } = parsed;
  return Object.fromEntries(
    names.map((name, i) => {
      const d = clockDigitAt(picks, i);
      return [name, [hybrids[d], nodes[d]]];
    }),
  );
}
