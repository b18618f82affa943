import { randomUUID } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { performance } from 'node:perf_hooks';
import { Kafka, logLevel } from 'kafkajs';
import { migrateDatabase } from '@sync/persistence';
import { formatHybrid, hybridFromMillis } from '@sync/protocol';
import { type Service, freePort, percentile, sleep, startService } from './query-bench-support';
import { createBenchTopics } from './bench-topics';
import { dropDatabaseWithBench, deleteTopicsWithBench } from './child-processes';
import { benchArgs } from './bench-args';

/**
 * End-to-end visibility: how long after ingest's 202 a write is readable through the query
 * service. Ingest, projector and query each run in their own process on real Kafka and
 * Postgres; this process offers a steady op rate (open loop: batches leave on schedule
 * whatever the answers do), and right after each 202 asks query for the batch's last record
 * with minOffset = the 202's lastOffset. The time from 202 to that 200 is the visibility
 * latency (the minOffset wait is woken by the projector's commit notification).
 *
 *   npm run build && node dist/bench/query-visibility.bench.js [--rate 2000] [--batch 20]
 *     [--duration 30] [--warmup 5] [--libraries 50] [--partitions 6] [--smoke]
 *
 * (`--help` lists the options with their defaults.)
 *
 * `--smoke` is a few seconds' check that the benchmark still works, not a measurement. A
 * request that fails (network error, or a status other than 2xx) fails the run (non-zero exit,
 * after the table); 429 and 503, which the services answer when they shed load, are counted
 * as refused and reported. The services run with SYNC_AUTH_DISABLED=true.
 *
 * KAFKA_BROKERS (default 127.0.0.1:9092) and DATABASE_URL (server; default
 * postgres://postgres@127.0.0.1:5432/postgres) name the infrastructure; the benchmark creates
 * and removes its own database, topics and consumer group.
 */
const args = benchArgs({
  usage: 'node dist/bench/query-visibility.bench.js [options]',
  summary:
    "End-to-end visibility: how long after ingest's 202 a write is readable through the query\n" +
    'service, at a steady offered op rate (ingest, projector and query in their own processes).',
  options: {
    rate: { kind: 'number', description: 'offered ops/s', default: 2000, smoke: 100 },
    batch: { kind: 'integer', description: 'ops per POST', default: 20, smoke: 10 },
    duration: { kind: 'number', description: 'seconds measured', default: 30, smoke: 2 },
    warmup: {
      kind: 'number',
      description: 'seconds offered before measuring',
      default: 5,
      smoke: 1,
    },
    libraries: { kind: 'integer', description: 'libraries written', default: 50, smoke: 4 },
    partitions: { kind: 'integer', description: "the topic's partitions", default: 6, smoke: 2 },
    smoke: { kind: 'flag', description: "a few seconds' check, not a measurement" },
  },
});
const RATE = args.rate;
const BATCH = args.batch;
const DURATION_S = args.duration;
const WARMUP_S = args.warmup;
const LIBRARIES = args.libraries;
const PARTITIONS = args.partitions;
const BROKERS = process.env.KAFKA_BROKERS ?? '127.0.0.1:9092';

interface Sample {
  ingestMs: number;
  visibleMs: number;
  totalMs: number;
}

async function main(): Promise<void> {
  const suffix = randomUUID().slice(0, 8);
  const base = new URL(process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres');
  base.pathname = `/sync_bench_visibility_${suffix}`;
  const databaseUrl = base.toString();
  const topic = `bench.visibility.${suffix}.operations`;
  const dlq = `bench.visibility.${suffix}.operations.dlq`;
  const kafka = new Kafka({
    clientId: 'bench',
    brokers: BROKERS.split(','),
    logLevel: logLevel.NOTHING,
  });
  const admin = kafka.admin();
  await admin.connect();
  const deleteTopics = deleteTopicsWithBench(admin, [topic, dlq]);
  await createBenchTopics(
    admin,
    [topic, dlq].map((name) => ({
      topic: name,
      numPartitions: PARTITIONS,
      replicationFactor: 1,
    })),
  );
  const dropBenchDatabase = dropDatabaseWithBench(databaseUrl);
  await migrateDatabase(databaseUrl);

  const services: Service[] = [];
  try {
    const env = {
      KAFKA_BROKERS: BROKERS,
      SYNC_TOPIC: topic,
      SYNC_DLQ_TOPIC: dlq,
      DATABASE_URL: databaseUrl,
      KAFKAJS_NO_PARTITIONER_WARNING: '1',
      // Measures the sync path, not key checks (as the ingest benchmark does).
      SYNC_AUTH_DISABLED: 'true',
    };
    const ports = {
      projector: await freePort(),
      ingest: await freePort(),
      query: await freePort(),
    };
    services.push(
      await startService('projector', ports.projector, {
        ...env,
        PROJECTOR_PORT: String(ports.projector),
        PROJECTOR_HOST: '127.0.0.1',
        PROJECTOR_GROUP: `bench-visibility-${suffix}`,
      }),
    );
    services.push(
      await startService('ingest', ports.ingest, {
        ...env,
        INGEST_PORT: String(ports.ingest),
        INGEST_HOST: '127.0.0.1',
      }),
    );
    services.push(
      await startService('query', ports.query, {
        ...env,
        QUERY_PORT: String(ports.query),
        QUERY_HOST: '127.0.0.1',
      }),
    );
    const [, ingest, query] = services;

    const libraries = Array.from({ length: LIBRARIES }, () => ({
      id: randomUUID(),
      node: randomUUID(),
      records: [] as string[],
    }));
    let lastMillis = 0;
    let counter = 0;
    const hybrid = (): string => {
      const now = Date.now();
      if (now > lastMillis) {
        lastMillis = now;
        counter = 0;
      }
      return formatHybrid(hybridFromMillis(lastMillis) + BigInt(counter++));
    };
    /** Mostly CREATEs, a quarter UPDATEs of the library's earlier records. */
    const buildBatch = (library: (typeof libraries)[number]) => {
      const ops: unknown[] = [];
      let last = '';
      for (let i = 0; i < BATCH; i++) {
        const known = library.records.length;
        if (known > 0 && i % 4 === 3 && i < BATCH - 1) {
          const recordId = library.records[Math.floor(Math.random() * known)];
          ops.push({
            type: 'UPDATE',
            recordId,
            field: 'note',
            value: `n${i}`,
            node: library.node,
            timestamp: { hybrid: hybrid() },
          });
        } else {
          last = randomUUID();
          library.records.push(last);
          ops.push({
            type: 'CREATE',
            recordId: last,
            model: 'Object',
            data: { kind: i, favorite: i % 2 === 0 },
            node: library.node,
            timestamp: { hybrid: hybrid() },
          });
        }
      }
      return { body: JSON.stringify(ops), last };
    };

    const samples: Sample[] = [];
    let failures = 0;
    let refused = 0;
    const failureKinds = new Map<string, number>();
    const fail = (kind: string): void => {
      failures++;
      failureKinds.set(kind, (failureKinds.get(kind) ?? 0) + 1);
    };
    /** 429 and 503 are load shedding: refused, not failed. */
    const badStatus = (service: string, status: number, text: string): void => {
      if (status === 429 || status === 503) {
        refused++;
        failureKinds.set(
          `refused: ${service} ${status}`,
          (failureKinds.get(`refused: ${service} ${status}`) ?? 0) + 1,
        );
      } else fail(`${service} ${status} ${text.slice(0, 80)}`);
    };
    let inFlight = 0;
    let maxInFlight = 0;
    const intervalMs = (BATCH / RATE) * 1000;
    const totalBatches = Math.round(((WARMUP_S + DURATION_S) * RATE) / BATCH);
    const start = performance.now();
    const measureFrom = start + WARMUP_S * 1000;
    const running: Promise<void>[] = [];
    console.log(
      `offering ${RATE} ops/s in batches of ${BATCH} over ${LIBRARIES} libraries for ${WARMUP_S}+${DURATION_S} s`,
    );

    const one = async (index: number): Promise<void> => {
      const library = libraries[index % LIBRARIES];
      const { body, last } = buildBatch(library);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        const sent = performance.now();
        const res = await fetch(`${ingest.url}/libraries/${library.id}/operations`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body,
        });
        const acked = performance.now();
        if (res.status !== 202) {
          badStatus('ingest', res.status, await res.text());
          return;
        }
        const { lastOffset } = (await res.json()) as { lastOffset: string };
        const read = await fetch(
          `${query.url}/libraries/${library.id}/records/${last}?minOffset=${lastOffset}&waitMs=30000`,
        );
        const text = await read.text();
        const visible = performance.now();
        if (read.status !== 200) badStatus('query', read.status, text);
        else if (sent >= measureFrom) {
          samples.push({
            ingestMs: acked - sent,
            visibleMs: visible - acked,
            totalMs: visible - sent,
          });
        }
      } catch (error) {
        fail(
          `fetch ${error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error)}`,
        );
      } finally {
        inFlight--;
      }
    };

    for (let i = 0; i < totalBatches; i++) {
      const due = start + i * intervalMs;
      const wait = due - performance.now();
      if (wait > 1) await sleep(wait);
      running.push(one(i));
    }
    const offeredSeconds = (performance.now() - start) / 1000;
    await Promise.all(running);

    // Where the time goes: the query service's minOffset waits and the projector's batches.
    const scrape = async (
      service: Service,
      metric: string,
    ): Promise<{ sum: number; count: number }> => {
      const text = await (await fetch(`${service.url}/metrics`)).text();
      const total = (suffix: string) =>
        text
          .split('\n')
          .filter((line) => line.startsWith(`${metric}_${suffix}`))
          .reduce((acc, line) => acc + Number(line.split(' ').pop()), 0);
      return { sum: total('sum'), count: total('count') };
    };
    const waits = await scrape(query, 'query_min_offset_wait_seconds');
    const batches = await scrape(services[0], 'projector_batch_duration_seconds');
    const sizes = await scrape(services[0], 'projector_batch_size');
    console.log(
      `query: ${waits.count} minOffset reads waited, mean ${((waits.sum / Math.max(waits.count, 1)) * 1000).toFixed(1)} ms; ` +
        `projector: ${batches.count} batches, mean ${((batches.sum / Math.max(batches.count, 1)) * 1000).toFixed(1)} ms, ` +
        `mean ${(sizes.sum / Math.max(sizes.count, 1)).toFixed(1)} messages`,
    );
    const pick = (key: keyof Sample) => samples.map((s) => s[key]);
    const mean = (values: number[]) =>
      values.reduce((a, b) => a + b, 0) / Math.max(values.length, 1);
    const row = (name: string, values: number[]) =>
      `| ${name} | ${mean(values).toFixed(1)} | ${percentile(values, 50).toFixed(1)} | ${percentile(values, 90).toFixed(1)} | ${percentile(values, 99).toFixed(1)} | ${percentile(values, 100).toFixed(1)} |`;
    console.log(
      `\nmachine: ${cpus().length} cores (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB; node ${process.version}`,
    );
    console.log(
      `offered ${((totalBatches * BATCH) / offeredSeconds).toFixed(0)} ops/s (${(totalBatches / offeredSeconds).toFixed(0)} POSTs/s of ${BATCH}) for ${offeredSeconds.toFixed(1)} s; ` +
        `${samples.length} batches measured after ${WARMUP_S} s warm-up; failures ${failures}; refused ${refused}; max in flight ${maxInFlight}; ${PARTITIONS} partitions\n`,
    );
    for (const [kind, count] of failureKinds) console.log(`failures: ${count} x ${kind}`);
    if (failures > 0 || samples.length === 0) {
      throw new Error(
        `${failures} requests failed and ${samples.length} batches were measured: no figures to report`,
      );
    }
    console.log('| latency (ms) | mean | p50 | p90 | p99 | max |');
    console.log('|---|---:|---:|---:|---:|---:|');
    console.log(row('POST -> 202 (ingest)', pick('ingestMs')));
    console.log(row('202 -> visible in query (minOffset read)', pick('visibleMs')));
    console.log(row('POST -> visible', pick('totalMs')));
  } finally {
    for (const service of services.reverse()) await service.stop();
    await deleteTopics().catch(() => undefined);
    await admin.disconnect();
    await dropBenchDatabase();
  }
}

main().catch((error: unknown) => {
  console.error('query-visibility bench FAILED:', error);
  process.exit(1);
});
