import { randomUUID } from 'node:crypto';
import {
  type RunningIngest,
  TopicReader,
  endOffsets,
  postOps,
  startIngest,
  tagCreates,
  waitFor,
} from './ingest-fixtures';
import { KafkaProxy } from './support/kafka-proxy';
import {
  type TestTopics,
  createTestTopics,
  deleteTestTopics,
  eventually,
  kafkaBrokers,
} from './support/test-env';

const PUBLISH_TIMEOUT_MS = 3000;
/** How long a publish whose produce request may have reached the broker waits for its outcome. */
const OUTCOME_TIMEOUT_MS = 6000;
/**
 * Small record batches: 20 ops (~5 KB) fit one, so single-request mode sends them as one
 * produce request, while 200 ops (~50 KB) take a transaction of ~7 record batches in both modes.
 */
const RECORD_BATCH_BYTES = 8192;

/**
 * The app reaches the real broker only through a TCP proxy the test cuts and restores; the
 * test itself reads the topic straight from the broker.
 */
describe.each(['single-request', 'transactional'])(
  'ingest (%s) when the broker is unreachable',
  (mode) => {
    let proxy: KafkaProxy;
    let ingest: RunningIngest;
    let topics: TestTopics;
    let topic: string;
    let committed: TopicReader;
    let uncommitted: TopicReader;

    beforeAll(async () => {
      topics = await createTestTopics('ingest-down', 2);
      topic = topics.operationsTopic;
      proxy = await KafkaProxy.start(kafkaBrokers()[0]);
      ingest = await startIngest({
        KAFKA_BROKERS: proxy.address,
        SYNC_TOPIC: topic,
        INGEST_PUBLISH_MODE: mode,
        INGEST_PUBLISH_TIMEOUT_MS: String(PUBLISH_TIMEOUT_MS),
        INGEST_PUBLISH_OUTCOME_TIMEOUT_MS: String(OUTCOME_TIMEOUT_MS),
        INGEST_MAX_RECORD_BATCH_BYTES: String(RECORD_BATCH_BYTES),
        INGEST_PRODUCERS: '2',
      });
      [committed, uncommitted] = await Promise.all([
        TopicReader.start(topic, 'read_committed'),
        TopicReader.start(topic, 'read_uncommitted'),
      ]);
    });

    afterEach(async () => {
      proxy.onProduce(null);
      await proxy.restore();
    });

    afterAll(async () => {
      await Promise.all([committed?.stop(), uncommitted?.stop()]);
      await ingest?.close();
      await proxy?.close();
      // Straight to the broker (only the proxy was ever cut), once nothing uses the topics.
      await deleteTestTopics(topics);
    });

    /** Posts until the service answers 202 (it must recover on its own). */
    async function postUntilAccepted(libraryId: string, ops: unknown[]) {
      return eventually(
        async () => {
          const response = await postOps(ingest.url, libraryId, ops);
          return response.status === 202 ? response : undefined;
        },
        30_000,
        250,
      );
    }

    it('publishes through the proxy while it is open', async () => {
      const libraryId = randomUUID();
      const before = proxy.producesForwarded;
      const response = await postOps(ingest.url, libraryId, tagCreates(10));
      expect(response.status).toBe(202);
      expect(proxy.producesForwarded).toBeGreaterThan(before);
      expect((await fetch(`${ingest.url}/health/ready`)).status).toBe(200);
    });

    for (const cut of ['refuse', 'blackhole'] as const) {
      it(`answers 503 BROKER_UNAVAILABLE in bounded time when the broker ${cut === 'refuse' ? 'refuses connections' : 'stops answering'}, writes nothing, and recovers without a restart`, async () => {
        const libraryId = randomUUID();
        const before = await endOffsets(topic);
        await proxy.cut(cut);

        const failed = tagCreates(20);
        const started = Date.now();
        const response = await postOps(ingest.url, libraryId, failed);
        const elapsed = Date.now() - started;

        expect(response.status).toBe(503);
        expect(response.body).toEqual({ error: 'BROKER_UNAVAILABLE', message: expect.any(String) });
        // A produce request written into a connection that never answers may have reached the
        // broker: a single request then waits for the outcome deadline (a transaction is never
        // committed, so it is refused at the publish deadline).
        const bound =
          cut === 'blackhole' && mode === 'single-request'
            ? OUTCOME_TIMEOUT_MS
            : PUBLISH_TIMEOUT_MS;
        expect(elapsed).toBeLessThan(bound + 2000);
        const ready = await fetch(`${ingest.url}/health/ready`);
        expect(ready.status).toBe(503);
        expect(((await ready.json()) as { error: string }).error).toBe('NOT_READY');
        expect(await endOffsets(topic)).toEqual(before);

        await proxy.restore();
        const retried = tagCreates(20);
        const accepted = await postUntilAccepted(libraryId, retried);
        expect(accepted.body.accepted).toBe(20);
        await waitFor(() => (committed.ofLibrary(libraryId).length >= 20 ? true : undefined));
        // Only the accepted batch: nothing of the failed one (not even late), nothing twice.
        expect(committed.opsOf(libraryId).map((op) => op.recordId)).toEqual(
          retried.map((op) => op.recordId),
        );
        expect((await fetch(`${ingest.url}/health/ready`)).status).toBe(200);
      });
    }

    it('leaves nothing of a batch visible when its one produce request is cut on the way', async () => {
      const libraryId = randomUUID();
      proxy.onProduce(() => 'cut-request');

      const started = Date.now();
      const response = await postOps(ingest.url, libraryId, tagCreates(20));
      const elapsed = Date.now() - started;

      expect(response.status).toBe(503);
      expect(response.body.error).toBe('BROKER_UNAVAILABLE');
      if (mode === 'single-request') {
        // The request was written, so the service cannot know the broker never saw it: it
        // keeps asking until the outcome deadline, then says the outcome is unknown.
        expect(elapsed).toBeGreaterThanOrEqual(OUTCOME_TIMEOUT_MS - 100);
        expect(response.body.message).toMatch(/may have been stored/);
      } else {
        // A transaction that was never committed is known not to be visible: answered at once.
        expect(elapsed).toBeLessThan(PUBLISH_TIMEOUT_MS + 2000);
        expect(response.body.message).toMatch(/none of it was accepted/);
      }
      proxy.onProduce(null);
      await proxy.restore();
      const later = tagCreates(2);
      await postUntilAccepted(libraryId, later);
      await waitFor(() => (committed.ofLibrary(libraryId).length >= 2 ? true : undefined));
      await waitFor(() => (uncommitted.ofLibrary(libraryId).length >= 2 ? true : undefined));
      expect(committed.opsOf(libraryId).map((op) => op.recordId)).toEqual(
        later.map((op) => op.recordId),
      );
      expect(uncommitted.opsOf(libraryId).map((op) => op.recordId)).toEqual(
        later.map((op) => op.recordId),
      );
    });

    it('leaves no partial batch visible to read_committed consumers when the connection dies in the middle of a batch spread over several record batches', async () => {
      const libraryId = randomUUID();
      const ops = tagCreates(200);
      // Three record batches reach the broker, then the connection dies on the fourth.
      proxy.onProduce((n) => (n <= 3 ? 'forward' : 'cut-request'));

      const response = await postOps(ingest.url, libraryId, ops);

      expect(response.status).toBe(503);
      expect(response.body.error).toBe('BROKER_UNAVAILABLE');
      // The first record batches really are in the log (a read_uncommitted reader sees them)...
      const partial = await waitFor(() => {
        const seen = uncommitted.ofLibrary(libraryId);
        return seen.length > 0 ? seen : undefined;
      });
      expect(partial.length).toBeGreaterThan(0);
      expect(partial.length).toBeLessThan(ops.length);

      // ...and once the broker is back, the service fences that transaction, and a later batch
      // of the same library (same partition) becomes visible while none of the failed one does.
      proxy.onProduce(null);
      await proxy.restore();
      const later = tagCreates(5);
      await postUntilAccepted(libraryId, later);
      await waitFor(() => (committed.ofLibrary(libraryId).length >= 5 ? true : undefined));
      expect(committed.opsOf(libraryId).map((op) => op.recordId)).toEqual(
        later.map((op) => op.recordId),
      );
    });

    it('leaves nothing visible when the broker takes a record batch but the answer is lost', async () => {
      const libraryId = randomUUID();
      proxy.onProduce((n) => (n === 2 ? 'cut-response' : 'forward'));

      const response = await postOps(ingest.url, libraryId, tagCreates(200));

      expect(response.status).toBe(503);
      proxy.onProduce(null);
      await proxy.restore();
      const later = tagCreates(3);
      await postUntilAccepted(libraryId, later);
      await waitFor(() => (committed.ofLibrary(libraryId).length >= 3 ? true : undefined));
      expect(committed.opsOf(libraryId).map((op) => op.recordId)).toEqual(
        later.map((op) => op.recordId),
      );
      expect(uncommitted.ofLibrary(libraryId).length).toBeGreaterThan(3);
    });
  },
);
