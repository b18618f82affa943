import { SyncNode } from '../sync-node';
import { InMemorySyncServer } from '../testing';
import { followChangeStream } from './change-stream';
import { LiveSync } from './live-sync';
import type { SseEvent } from './sse-parser';

const LIB = '44444444-4444-4444-8444-444444444444';
const QUERY = 'http://query.test';

/** A scripted /changes endpoint: each request gets the next answer; records what was sent. */
function scriptedFetch(answers: (() => Response)[]) {
  const requests: { url: string; headers: Record<string, string> }[] = [];
  const fetchImpl = (input: string, init?: RequestInit): Promise<Response> => {
    requests.push({
      url: input,
      headers: { ...(init?.headers as Record<string, string>) },
    });
    const next = answers.shift();
    if (next === undefined) return new Promise<Response>(() => undefined); // hangs like a quiet stream
    return Promise.resolve(next());
  };
  return { fetch: fetchImpl as unknown as typeof fetch, requests };
}

/** A text/event-stream answer that sends `chunks` and ends. */
const stream =
  (...chunks: string[]) =>
  () =>
    new Response(
      new ReadableStream<Uint8Array>({
        start(controller) {
          for (const chunk of chunks) controller.enqueue(new TextEncoder().encode(chunk));
          controller.close();
        },
      }),
      { status: 200, headers: { 'content-type': 'text/event-stream' } },
    );

const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
};

describe('followChangeStream', () => {
  it('resumes with Last-Event-ID, the last id seen, and sends the key', async () => {
    const { fetch, requests } = scriptedFetch([
      // Cut in the middle of offset 8: its id never came, so the resume is after 7.
      stream(
        'id: 7\nevent: record\ndata: {"offset":"7"}\n\n',
        ': heartbeat\n\nevent: record\ndata: {"off',
        'set":"8"}\n\n',
      ),
      stream(
        'event: relation\ndata: {"offset":"8"}\n\nid: 8\nevent: record\ndata: {"offset":"8"}\n\n',
      ),
    ]);
    const events: SseEvent[] = [];
    const stop = followChangeStream({
      queryUrl: `${QUERY}/`,
      libraryId: LIB,
      after: '5',
      headers: { authorization: 'Bearer sk_test' },
      fetch,
      retryMs: 1,
      onEvent: (event) => events.push(event),
    });
    await until(() => requests.length === 3);
    stop();
    expect(requests[0].url).toBe(`${QUERY}/libraries/${LIB}/changes`);
    expect(requests.map((r) => r.headers['last-event-id'])).toEqual(['5', '7', '8']);
    expect(requests.every((r) => r.headers.authorization === 'Bearer sk_test')).toBe(true);
    expect(events.map((e) => [e.event, e.id])).toEqual([
      ['record', '7'],
      ['record', undefined],
      ['relation', undefined],
      ['record', '8'],
    ]);
  });

  it('stops on a 4xx answer and retries anything else', async () => {
    const states: string[] = [];
    const { fetch, requests } = scriptedFetch([
      () => new Response('{"error":"UNAVAILABLE"}', { status: 503 }),
      () => new Response('{"error":"UNAUTHORIZED"}', { status: 401 }),
      stream('never read'),
    ]);
    followChangeStream({
      queryUrl: QUERY,
      libraryId: LIB,
      after: null,
      fetch,
      retryMs: 1,
      onEvent: () => undefined,
      onState: (s) => states.push(s.state),
    });
    await until(() => states.includes('stopped'));
    await new Promise((r) => setTimeout(r, 20));
    expect(requests).toHaveLength(2);
    expect(requests[0].headers['last-event-id']).toBeUndefined();
    expect(states).toEqual(['connecting', 'retrying', 'connecting', 'stopped']);
  });
});

describe('LiveSync', () => {
  it('syncs when the stream shows an offset past the node, and on connecting', async () => {
    const server = new InMemorySyncServer();
    const writer = await SyncNode.open({ libraryId: LIB, transport: server });
    const reader = await SyncNode.open({ libraryId: LIB, transport: server });
    await writer.create('Tag', { name: 'before' });
    await writer.sync();

    let emit: (text: string) => void = () => undefined;
    const { fetch } = scriptedFetch([
      () =>
        new Response(
          new ReadableStream<Uint8Array>({
            start(controller) {
              emit = (text) => controller.enqueue(new TextEncoder().encode(text));
            },
          }),
          { status: 200 },
        ),
    ]);
    const reports: number[] = [];
    const live = LiveSync.start(reader, {
      queryUrl: QUERY,
      fetch,
      onSync: (report) => reports.push(report.applied),
    });
    // Connecting is a reason to sync: the node catches up on what it missed.
    await until(() => reports.length === 1);
    expect(reader.records('Tag').map((r) => r.data.name)).toEqual(['before']);

    const later = await writer.create('Tag', { name: 'later' });
    await writer.sync();
    emit(`id: ${writer.pulledThrough}\nevent: record\ndata: {"id":"${later.recordId}"}\n\n`);
    await until(() => reports.length === 2);
    expect(reader.state()).toEqual(server.state(LIB));

    // An offset the node already holds changes nothing.
    emit(`id: ${writer.pulledThrough}\nevent: record\ndata: {}\n\n`);
    await new Promise((r) => setTimeout(r, 30));
    expect(reports).toEqual([1, 1]);
    live.stop();
  });

  it('folds kicks that arrive during a sync into one more', async () => {
    const server = new InMemorySyncServer();
    const node = await SyncNode.open({ libraryId: LIB, transport: server });
    let syncs = 0;
    const counting = {
      libraryId: node.libraryId,
      get pulledThrough() {
        return node.pulledThrough;
      },
      sync: () => {
        syncs++;
        return node.sync();
      },
    };
    const { fetch } = scriptedFetch([]);
    const live = LiveSync.start(counting, { queryUrl: QUERY, fetch });
    await node.create('Tag', { name: 'a' });
    live.kick();
    live.kick();
    live.kick();
    await until(() => server.published(LIB) === 1 && syncs === 2);
    await new Promise((r) => setTimeout(r, 20));
    expect(syncs).toBe(2);
    live.stop();
  });
});
