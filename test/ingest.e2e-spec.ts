import { randomUUID } from 'node:crypto';
import { partitionForLibrary } from '@sync/kafka';
import { canonicalJson, defaultSchema, validateBatch } from '@sync/protocol';
import {
  type RunningIngest,
  TopicReader,
  endOffsets,
  getJson,
  hybridAt,
  postOps,
  sixShapes,
  startIngest,
  tagCreates,
  waitFor,
} from './ingest-fixtures';
import { type TestTopics, createTestTopics, deleteTestTopics } from './support/test-env';

const PARTITIONS = 3;

describe('ingest: POST /libraries/{libraryId}/operations against the real broker', () => {
  let ingest: RunningIngest;
  let topics: TestTopics;
  let topic: string;
  let reader: TopicReader;

  beforeAll(async () => {
    topics = await createTestTopics('ingest', PARTITIONS);
    topic = topics.operationsTopic;
    ingest = await startIngest({ SYNC_TOPIC: topic });
    reader = await TopicReader.start(topic, 'read_committed');
  });

  afterAll(async () => {
    await reader?.stop();
    await ingest?.close();
    await deleteTestTopics(topics);
  });

  it('publishes a valid batch in order, on the library partition, keyed by the lowercase id', async () => {
    const libraryId = randomUUID().toUpperCase();
    const ops = [...sixShapes(randomUUID().toUpperCase()), ...tagCreates(94)];

    const response = await postOps(ingest.url, libraryId, ops);

    expect(response.status).toBe(202);
    const partition = partitionForLibrary(libraryId.toLowerCase(), PARTITIONS);
    expect(response.body).toEqual({
      accepted: 100,
      partition,
      firstOffset: expect.stringMatching(/^\d+$/),
      lastOffset: expect.stringMatching(/^\d+$/),
    });
    const first = BigInt(response.body.firstOffset);
    expect(BigInt(response.body.lastOffset) - first).toBe(99n);

    const consumed = await waitFor(() => {
      const mine = reader.ofLibrary(libraryId);
      return mine.length >= 100 ? mine : undefined;
    });
    const expected = validateBatch(ops, defaultSchema()).ops.map((op) => canonicalJson(op));
    expect(consumed).toHaveLength(100);
    expect(consumed.map((m) => m.value)).toEqual(expected);
    expect(consumed.map((m) => m.offset)).toEqual(
      Array.from({ length: 100 }, (_, i) => (first + BigInt(i)).toString()),
    );
    for (const message of consumed) {
      expect(message.partition).toBe(partition);
      expect(message.key).toBe(libraryId.toLowerCase());
    }
    // Normalised: UUIDs lowercase, otherwise the op as sent.
    expect(JSON.parse(consumed[0].value)).toEqual({
      ...ops[0],
      recordId: (ops[0].recordId as string).toLowerCase(),
      node: (ops[0].node as string).toLowerCase(),
    });
  });

  it('takes a full batch of 10000 ops, larger than the topic lets one record batch be', async () => {
    const libraryId = randomUUID();
    const ops = tagCreates(10_000);
    expect(JSON.stringify(ops).length).toBeGreaterThan(1024 * 1024);

    const response = await postOps(ingest.url, libraryId, ops);

    expect(response.status).toBe(202);
    expect(response.body.accepted).toBe(10_000);
    const consumed = await waitFor(() => {
      const mine = reader.opsOf(libraryId);
      return mine.length >= 10_000 ? mine : undefined;
    });
    expect(consumed.map((op) => op.recordId)).toEqual(ops.map((op) => op.recordId));
    expect(reader.ofLibrary(libraryId)[0].offset).toBe(response.body.firstOffset);
    expect(reader.ofLibrary(libraryId)[9_999].offset).toBe(response.body.lastOffset);
  });

  it('serves concurrent batches of many libraries, each complete and in order', async () => {
    const libraries = Array.from({ length: 12 }, () => randomUUID());
    const batches = libraries.map(() => tagCreates(50));

    const responses = await Promise.all(
      libraries.map((id, i) => postOps(ingest.url, id, batches[i])),
    );

    expect(responses.map((r) => r.status)).toEqual(libraries.map(() => 202));
    await waitFor(() =>
      libraries.every((id) => reader.ofLibrary(id).length >= 50) ? true : undefined,
    );
    libraries.forEach((id, i) => {
      const names = reader.opsOf(id).map((op) => op.data.name);
      expect(names).toEqual(batches[i].map((op) => (op.data as { name: string }).name));
      expect(reader.ofLibrary(id)[0].partition).toBe(responses[i].body.partition);
    });
  });

  describe('rejects without publishing anything', () => {
    let before: Record<number, string>;

    beforeEach(async () => {
      before = await endOffsets(topic);
    });

    afterEach(async () => {
      // Nothing reached the topic: every partition's end offset is where it was.
      expect(await endOffsets(topic)).toEqual(before);
    });

    it('400 INVALID_LIBRARY_ID, before the body matters', async () => {
      const valid = await postOps(ingest.url, 'not-a-uuid', tagCreates(1));
      expect(valid.status).toBe(400);
      expect(valid.body).toEqual({ error: 'INVALID_LIBRARY_ID', message: expect.any(String) });

      const malformed = await postOps(ingest.url, 'not-a-uuid', null, { raw: '[{"type":' });
      expect(malformed.status).toBe(400);
      expect(malformed.body.error).toBe('INVALID_LIBRARY_ID');

      const almost = await postOps(ingest.url, `${randomUUID()}0`, tagCreates(1));
      expect(almost.body.error).toBe('INVALID_LIBRARY_ID');
    });

    it('400 INVALID_JSON for a malformed or empty body', async () => {
      const malformed = await postOps(ingest.url, randomUUID(), null, {
        raw: '[{"type": "CREATE",',
      });
      expect(malformed.status).toBe(400);
      expect(malformed.body).toEqual({ error: 'INVALID_JSON', message: expect.any(String) });

      const empty = await postOps(ingest.url, randomUUID(), null, { raw: '' });
      expect(empty.status).toBe(400);
      expect(empty.body.error).toBe('INVALID_JSON');
    });

    it('415 UNSUPPORTED_MEDIA_TYPE for a body that is not JSON', async () => {
      const response = await postOps(ingest.url, randomUUID(), null, {
        raw: JSON.stringify(tagCreates(1)),
        contentType: 'text/plain',
      });
      expect(response.status).toBe(415);
      expect(response.body.error).toBe('UNSUPPORTED_MEDIA_TYPE');
    });

    it('400 NOT_AN_ARRAY for any other JSON value', async () => {
      for (const body of [tagCreates(1)[0], 'ops', 42, null, true]) {
        const response = await postOps(ingest.url, randomUUID(), body);
        expect({ body, status: response.status, error: response.body.error }).toEqual({
          body,
          status: 400,
          error: 'NOT_AN_ARRAY',
        });
      }
    });

    it('422 VALIDATION_FAILED for an empty batch', async () => {
      const response = await postOps(ingest.url, randomUUID(), []);
      expect(response.status).toBe(422);
      expect(response.body.error).toBe('VALIDATION_FAILED');
    });

    it('413 PAYLOAD_TOO_LARGE for more than 10000 ops', async () => {
      const ops = Array(10_001).fill(tagCreates(1)[0]);
      const response = await postOps(ingest.url, randomUUID(), ops);
      expect(response.status).toBe(413);
      expect(response.body.error).toBe('PAYLOAD_TOO_LARGE');
    });

    it('413 PAYLOAD_TOO_LARGE for more than 10 MB', async () => {
      const op = { ...tagCreates(1)[0], data: { name: 'x'.repeat(1024 * 1024) } };
      const response = await postOps(ingest.url, randomUUID(), Array(11).fill(op));
      expect(response.status).toBe(413);
      expect(response.body.error).toBe('PAYLOAD_TOO_LARGE');
    });

    it('422 VALIDATION_FAILED listing every problem of every bad op', async () => {
      const ops = tagCreates(6);
      ops[1] = { ...ops[1], data: { name: 42 } };
      ops[3] = { ...ops[3], timestamp: { hybrid: 123 }, color: 'red' };
      ops[5] = { ...ops[5], model: 'Nope' };

      const response = await postOps(ingest.url, randomUUID(), ops);

      expect(response.status).toBe(422);
      expect(response.body.error).toBe('VALIDATION_FAILED');
      const details = response.body.details as { index: number; path: string; message: string }[];
      expect(details.map(({ index, path }) => ({ index, path }))).toEqual([
        { index: 1, path: 'data.name' },
        { index: 3, path: 'color' },
        { index: 3, path: 'timestamp.hybrid' },
        { index: 5, path: 'model' },
      ]);
      for (const detail of details) expect(detail.message).toEqual(expect.any(String));
    });

    it('422 TIMESTAMP_DRIFT naming every op too far ahead, and the clock does not move', async () => {
      const ahead = hybridAt(3_600_000);
      const ops = tagCreates(5);
      ops[1] = { ...ops[1], timestamp: { hybrid: ahead } };
      ops[4] = { ...ops[4], timestamp: { hybrid: hybridAt(400_000) } };

      const response = await postOps(ingest.url, randomUUID(), ops);

      expect(response.status).toBe(422);
      expect(response.body.error).toBe('TIMESTAMP_DRIFT');
      expect(response.body.details.map((d: { index: number }) => d.index)).toEqual([1, 4]);
      const clock = await getJson(`${ingest.url}/clock`);
      expect(BigInt(clock.hybrid)).toBeLessThan(BigInt(hybridAt(60_000)));
    });
  });

  it('GET /clock follows accepted ops (receive rule) and stays put on rejected ones', async () => {
    const readClock = async () => BigInt((await getJson(`${ingest.url}/clock`)).hybrid);
    const before = await readClock();
    expect(before).toBeGreaterThanOrEqual(BigInt(hybridAt(-1000)));

    const ahead = hybridAt(120_000);
    const ops = tagCreates(3);
    ops[2] = { ...ops[2], timestamp: { hybrid: ahead } };
    expect((await postOps(ingest.url, randomUUID(), ops)).status).toBe(202);
    const afterAccepted = await readClock();
    expect(afterAccepted).toBeGreaterThan(BigInt(ahead));

    const drifted = tagCreates(1);
    drifted[0] = { ...drifted[0], timestamp: { hybrid: hybridAt(3_600_000) } };
    expect((await postOps(ingest.url, randomUUID(), drifted)).status).toBe(422);
    const invalid = [
      { ...tagCreates(1)[0], model: 'Nope', timestamp: { hybrid: hybridAt(200_000) } },
    ];
    expect((await postOps(ingest.url, randomUUID(), invalid)).status).toBe(422);
    expect(await readClock()).toBe(afterAccepted);
  });

  it('is ready while the broker answers, and reports metrics', async () => {
    const ready = await fetch(`${ingest.url}/health/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ok', checks: { kafka: 'up' } });

    const metrics = await (await fetch(`${ingest.url}/metrics`)).text();
    expect(metrics).toMatch(/^ingest_operations_accepted_total\{[^}]*\} [1-9]\d*$/m);
    expect(metrics).toMatch(
      /^ingest_operations_rejected_total\{[^}]*code="VALIDATION_FAILED"[^}]*\} [1-9]/m,
    );
    expect(metrics).toMatch(/^ingest_requests_total\{[^}]*result="INVALID_JSON"[^}]*\} [1-9]/m);
    expect(metrics).toMatch(/^ingest_batch_operations_bucket\{[^}]*le="100"[^}]*\} [1-9]/m);
    expect(metrics).toMatch(
      /^ingest_publish_duration_seconds_count\{[^}]*outcome="ok"[^}]*\} [1-9]/m,
    );
  });

  it('documents the endpoint and the six op shapes in OpenAPI', async () => {
    const document = await getJson(`${ingest.url}/docs-json`);
    const post = document.paths['/libraries/{libraryId}/operations'].post;
    expect(Object.keys(post.responses)).toEqual(
      expect.arrayContaining(['202', '400', '413', '415', '422', '503']),
    );
    const items = post.requestBody.content['application/json'].schema.items.oneOf;
    expect(items.map((s: { $ref: string }) => s.$ref.split('/').pop())).toEqual([
      'RecordCreateOperationDto',
      'RecordUpdateOperationDto',
      'RecordDeleteOperationDto',
      'RelationCreateOperationDto',
      'RelationUpdateOperationDto',
      'RelationDeleteOperationDto',
    ]);
    expect(document.components.schemas.TimestampDto.properties.hybrid.type).toBe('string');
    expect(document.paths['/clock'].get).toBeDefined();
  });
});
