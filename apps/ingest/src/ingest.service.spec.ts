import { randomUUID } from 'node:crypto';
import { PublishError, type PublishResult } from '@sync/kafka';
import { SyncError } from '@sync/platform';
import {
  MAX_JSON_LIMITS,
  type Operation,
  checkJsonLimits,
  formatHybrid,
  hybridFromMillis,
} from '@sync/protocol';
import { Registry } from 'prom-client';
import { AdmissionControl } from './admission-control.service';
import { readIngestConfig } from './ingest.config';
import { IngestMetrics } from './ingest.metrics';
import { IngestService } from './ingest.service';

const hybridIn = (ms: number) => formatHybrid(hybridFromMillis(Date.now() + ms));

function tag(overrides: Record<string, unknown> = {}) {
  return {
    type: 'CREATE',
    recordId: randomUUID(),
    model: 'Tag',
    data: { name: 'n' },
    node: randomUUID(),
    timestamp: { hybrid: hybridIn(0) },
    ...overrides,
  };
}

/** The service with a stand-in for Kafka: these tests are about what reaches the publisher. */
function setup(
  publish: (libraryId: string, ops: readonly Operation[]) => Promise<PublishResult>,
  env: Record<string, string> = {},
) {
  const config = readIngestConfig({ INGEST_MAX_BATCH_OPS: '5', MAX_DRIFT_MS: '60000', ...env });
  const publisher = { publish: jest.fn(publish) };
  const registry = new Registry();
  const service = new IngestService(
    config,
    publisher,
    new IngestMetrics(registry),
    new AdmissionControl(config, registry),
  );
  return { service, publisher, registry };
}

const accepted = (ops: readonly Operation[]): Promise<PublishResult> =>
  Promise.resolve({
    topic: 't',
    partition: 1,
    count: ops.length,
    firstOffset: '10',
    lastOffset: String(9 + ops.length),
    kind: 'request',
  });

async function rejection(promise: Promise<unknown>): Promise<SyncError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SyncError);
  return error as SyncError;
}

describe('IngestService', () => {
  it('accepts a valid batch and hands the normalised ops to the publisher', async () => {
    const { service, publisher } = setup((_, ops) => accepted(ops));
    const libraryId = randomUUID().toUpperCase();
    const op = tag({ recordId: randomUUID().toUpperCase() });

    await expect(service.ingest(libraryId, [op])).resolves.toEqual({
      accepted: 1,
      partition: 1,
      firstOffset: '10',
      lastOffset: '10',
    });
    const [publishedId, ops] = publisher.publish.mock.calls[0];
    expect(publishedId).toBe(libraryId.toLowerCase());
    expect(ops[0]).toMatchObject({ recordId: (op.recordId as string).toLowerCase() });
  });

  it.each([
    ['not-a-uuid', [tag()], false, 'INVALID_LIBRARY_ID'],
    ['not-a-uuid', undefined, true, 'INVALID_LIBRARY_ID'],
    [randomUUID(), undefined, false, 'INVALID_JSON'],
    [randomUUID(), {}, true, 'INVALID_JSON'],
    [randomUUID(), { ops: [] }, false, 'NOT_AN_ARRAY'],
    [randomUUID(), [], false, 'VALIDATION_FAILED'],
    [randomUUID(), Array(6).fill(tag()), false, 'PAYLOAD_TOO_LARGE'],
    [randomUUID(), [tag(), tag({ model: 'Nope' })], false, 'VALIDATION_FAILED'],
    [randomUUID(), [tag({ timestamp: { hybrid: hybridIn(120_000) } })], false, 'TIMESTAMP_DRIFT'],
  ])('%s %j (empty body: %s) -> %s, nothing published', async (id, body, empty, code) => {
    const { service, publisher, registry } = setup((_, ops) => accepted(ops));
    const error = await rejection(service.ingest(id, body, empty));
    expect(error.code).toBe(code);
    expect(publisher.publish).not.toHaveBeenCalled();
    const rejected = await registry.getSingleMetric('ingest_operations_rejected_total')?.get();
    expect(rejected?.values).toEqual([
      { labels: { code }, value: Array.isArray(body) ? body.length : 0 },
    ]);
  });

  it('refuses ops beyond its JSON limits, which reach at most what the projector accepts', async () => {
    const widest = {
      INGEST_MAX_JSON_DEPTH: String(MAX_JSON_LIMITS.maxDepth),
      INGEST_MAX_STRING_LENGTH: String(MAX_JSON_LIMITS.maxStringLength),
    };
    expect(readIngestConfig(widest).jsonLimits).toEqual(MAX_JSON_LIMITS);
    expect(() =>
      readIngestConfig({ INGEST_MAX_JSON_DEPTH: String(MAX_JSON_LIMITS.maxDepth + 1) }),
    ).toThrow(/INGEST_MAX_JSON_DEPTH/);
    expect(() =>
      readIngestConfig({ INGEST_MAX_STRING_LENGTH: String(MAX_JSON_LIMITS.maxStringLength + 1) }),
    ).toThrow(/INGEST_MAX_STRING_LENGTH/);

    const { service, publisher } = setup((_, ops) => accepted(ops), widest);
    let name: unknown = [];
    for (let level = 3; level <= MAX_JSON_LIMITS.maxDepth; level++) name = [name];
    const body = [tag(), tag({ data: { name } })];
    const error = await rejection(service.ingest(randomUUID(), body));
    expect(error.code).toBe('VALIDATION_FAILED');
    // The projector dead-letters with this same check and these same limits (message-decoder.spec).
    expect(error.details).toEqual(checkJsonLimits(body, MAX_JSON_LIMITS));
    expect(error.details).toEqual([expect.objectContaining({ index: 1 })]);
    expect(publisher.publish).not.toHaveBeenCalled();
  });

  it('names every drifting op and does not move the clock', async () => {
    const { service } = setup((_, ops) => accepted(ops));
    const before = BigInt(service.currentClock());
    const ops = [
      tag(),
      tag({ timestamp: { hybrid: hybridIn(3_600_000) } }),
      tag(),
      tag({ timestamp: { hybrid: hybridIn(61_000) } }),
    ];

    const error = await rejection(service.ingest(randomUUID(), ops));

    expect(error.code).toBe('TIMESTAMP_DRIFT');
    expect(error.details).toEqual([
      { index: 1, path: 'timestamp.hybrid', message: expect.stringContaining('ahead') },
      { index: 3, path: 'timestamp.hybrid', message: expect.stringContaining('ahead') },
    ]);
    expect(BigInt(service.currentClock()) - before).toBeLessThan(hybridFromMillis(1000));
  });

  it('moves the clock past an accepted op (receive rule), and only once Kafka has the batch', async () => {
    let fail = true;
    const { service } = setup((_, ops) =>
      fail ? Promise.reject(new PublishError('unavailable', 'down')) : accepted(ops),
    );
    const ahead = hybridIn(30_000);

    const down = await rejection(
      service.ingest(randomUUID(), [tag({ timestamp: { hybrid: ahead } })]),
    );
    expect(down.code).toBe('BROKER_UNAVAILABLE');
    expect(BigInt(service.currentClock())).toBeLessThan(BigInt(ahead));

    fail = false;
    await service.ingest(randomUUID(), [tag({ timestamp: { hybrid: ahead } })]);
    expect(BigInt(service.currentClock())).toBeGreaterThan(BigInt(ahead));
  });

  it('maps publish failures to contract codes', async () => {
    for (const [reason, code] of [
      ['unavailable', 'BROKER_UNAVAILABLE'],
      ['timeout', 'BROKER_UNAVAILABLE'],
      ['closed', 'BROKER_UNAVAILABLE'],
      ['too-large', 'PAYLOAD_TOO_LARGE'],
      ['unknown', 'BROKER_UNAVAILABLE'],
    ] as const) {
      const { service } = setup(() => Promise.reject(new PublishError(reason, reason)));
      expect((await rejection(service.ingest(randomUUID(), [tag()]))).code).toBe(code);
    }
  });

  it('says "none accepted" only when that is known, and "may have been stored" otherwise', async () => {
    const known = setup(() => Promise.reject(new PublishError('timeout', 'no answer')));
    expect((await rejection(known.service.ingest(randomUUID(), [tag()]))).message).toMatch(
      /none of it was accepted/,
    );
    const unknown = setup(() => Promise.reject(new PublishError('unknown', 'no answer')));
    const error = await rejection(unknown.service.ingest(randomUUID(), [tag()]));
    expect(error.message).toMatch(/may have been stored/);
    expect(error.message).not.toMatch(/none of it/);
  });

  it('refuses work beyond the in-flight bounds at once with 429 OVERLOADED and Retry-After', async () => {
    const held: (() => void)[] = [];
    const { service, publisher, registry } = setup(
      (_, ops) => new Promise((resolve) => held.push(() => resolve(accepted(ops)))),
      { INGEST_MAX_INFLIGHT_REQUESTS: '2', INGEST_MAX_INFLIGHT_OPS: '6' },
    );
    const first = service.ingest(randomUUID(), [tag(), tag(), tag(), tag()]);
    // 4 + 3 ops would pass the bound of 6: refused, never handed to the publisher.
    const overOps = await rejection(service.ingest(randomUUID(), [tag(), tag(), tag()]));
    expect(overOps).toMatchObject({ code: 'OVERLOADED', status: 429 });
    expect(overOps.headers?.['Retry-After']).toMatch(/^[1-9]\d*$/);
    const second = service.ingest(randomUUID(), [tag()]);
    const overRequests = await rejection(service.ingest(randomUUID(), [tag()]));
    expect(overRequests.code).toBe('OVERLOADED');
    await new Promise(setImmediate);
    expect(publisher.publish).toHaveBeenCalledTimes(2);

    for (const release of held) release();
    await Promise.all([first, second]);
    // Released: room again.
    const third = service.ingest(randomUUID(), [tag(), tag(), tag()]);
    await new Promise(setImmediate);
    held[2]();
    await expect(third).resolves.toMatchObject({ accepted: 3 });
    const refused = await registry.getSingleMetric('ingest_admission_refused_total')?.get();
    expect(refused?.values).toEqual(
      expect.arrayContaining([
        { labels: { limit: 'ops' }, value: 1 },
        { labels: { limit: 'requests' }, value: 1 },
      ]),
    );
  });

  it('refuses before the body is read only what could be admitted later, never an oversized body', () => {
    const config = readIngestConfig({
      INGEST_MAX_BODY_BYTES: '2048',
      INGEST_MAX_INFLIGHT_REQUESTS: '1',
      INGEST_MAX_INFLIGHT_BYTES: '3000',
    });
    const admission = new AdmissionControl(config, new Registry());
    expect(() => admission.precheck(2048)).not.toThrow();
    void admission.run({ ops: 1, bytes: 1000 }, () => new Promise(() => undefined));
    expect(() => admission.precheck(100)).toThrow(expect.objectContaining({ code: 'OVERLOADED' }));
    // Over the body limit: left to the body parser's 413 PAYLOAD_TOO_LARGE.
    expect(() => admission.precheck(4096)).not.toThrow();
  });

  it('counts body bytes towards the bound', async () => {
    const { service } = setup((_, ops) => new Promise(() => void ops), {
      INGEST_MAX_BODY_BYTES: '2048',
      INGEST_MAX_INFLIGHT_BYTES: '3000',
    });
    void service.ingest(randomUUID(), [tag()], false, 2000);
    const error = await rejection(service.ingest(randomUUID(), [tag()], false, 1001));
    expect(error.code).toBe('OVERLOADED');
    expect(error.message).toMatch(/request bytes/);
  });
});
