#!/usr/bin/env node
// Kafka admin helper for scripts/kafka/kafka.sh, on kafkajs' admin client (the project's
// Kafka client; needs `npm ci`, kafka.sh falls back to the JVM tools without it).
//
//   node scripts/kafka/kafka-admin.cjs [--bootstrap host:port[,host:port]] COMMAND [options]
//     ready          [--brokers N] [--timeout MS] [--quiet]
//                    exit 0 once >= N brokers are registered and a controller is known
//     ensure-topics  [--partitions P (12)] [--replication-factor R] [--config k=v]... [--timeout MS] topic...
//                    create the missing topics, then wait until every partition has a leader;
//                    existing topics are left alone (a different partition count or config
//                    only gets a warning)
//     wait-isr       [--timeout MS] [topic...]
//                    exit 0 once every partition (of all topics when none are named) has a
//                    leader and its full replica set in sync
//     describe       [topic...]   one JSON line per topic; exit 1 when one is missing
//
// The bootstrap list defaults to $KAFKA_BROKERS, else 127.0.0.1:9092.
'use strict';

const { parseArgs } = require('node:util');
const { Kafka, logLevel, ConfigResourceTypes } = require('kafkajs');

// Errors worth another attempt while a broker or cluster is still starting.
const RETRIABLE = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_OR_FOLLOWER',
  'NOT_LEADER_FOR_PARTITION',
  'REQUEST_TIMED_OUT',
  'BROKER_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'COORDINATOR_NOT_AVAILABLE',
  'NOT_CONTROLLER',
  'INVALID_REPLICATION_FACTOR', // fewer brokers registered than the replication factor, so far
  'THROTTLING_QUOTA_EXCEEDED',
]);

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** kafkajs error types in an error (unwrapping retry and aggregate errors). */
function errorTypes(e) {
  if (!e) return [];
  if (Array.isArray(e.errors)) return e.errors.flatMap(errorTypes);
  if (e.originalError) return errorTypes(e.originalError);
  return [e.type || e.name || 'Error'];
}
const isRetriable = (e) => errorTypes(e).every((t) => RETRIABLE.has(t));
function message(e) {
  if (e.originalError) return message(e.originalError);
  if (Array.isArray(e.errors)) return e.errors.map(message).join('; ');
  return e.message;
}

function shuffle(list) {
  const a = [...list];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

/**
 * Runs fn(admin) on a fresh connection. kafkajs tries the bootstrap brokers in list order, so
 * the list is shuffled and a failed connection moves on to the next broker (a dead node of the
 * cluster must not fail the call). Short timeouts keep polling of a starting broker quick.
 */
async function withAdmin(bootstrap, fn, { requestTimeout = 5000 } = {}) {
  const kafka = new Kafka({
    clientId: 'sync-kafka-admin',
    brokers: shuffle(bootstrap),
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout,
    retry: { retries: bootstrap.length - 1, initialRetryTime: 50, maxRetryTime: 200 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    return await fn(admin);
  } finally {
    await admin.disconnect().catch(() => {});
  }
}

/**
 * Calls fn every intervalMs until it returns a result; undefined or an Error (the reason) means
 * "not yet". Past the deadline, throws the last reason.
 */
async function poll(deadline, intervalMs, fn) {
  for (;;) {
    let last;
    try {
      const v = await fn();
      if (v !== undefined && !(v instanceof Error)) return v;
      last = v;
    } catch (e) {
      last = e;
    }
    if (Date.now() >= deadline) throw last ?? new Error('timed out');
    await sleep(intervalMs);
  }
}

// ------------------------------------------------------------------------------ commands

async function cmdReady(bootstrap, opts) {
  const want = Number(opts.brokers ?? 1);
  const deadline = Date.now() + Number(opts.timeout ?? 0);
  try {
    const cluster = await poll(deadline, 100, () =>
      withAdmin(
        bootstrap,
        async (admin) => {
          const c = await admin.describeCluster();
          if (c.brokers.length >= want && c.controller !== null) return c;
          return new Error(
            `${c.brokers.length}/${want} broker(s) registered, controller ${c.controller ?? 'none'}`,
          );
        },
        { requestTimeout: 3000 },
      ),
    );
    if (!opts.quiet) {
      const nodes = cluster.brokers
        .sort((a, b) => a.nodeId - b.nodeId)
        .map((b) => `${b.nodeId}@${b.host}:${b.port}`);
      console.log(
        `ready: cluster ${cluster.clusterId}, ${nodes.length} broker(s) [${nodes.join(', ')}], controller ${cluster.controller}`,
      );
    }
    return 0;
  } catch (e) {
    if (!opts.quiet) console.error(`not ready: ${message(e)}`);
    return 1;
  }
}

async function cmdEnsureTopics(bootstrap, opts, names) {
  if (names.length === 0) throw new Error('ensure-topics: no topic names given');
  const numPartitions = Number(opts.partitions ?? 12);
  const replicationFactor = Number(opts['replication-factor'] ?? 1);
  const configEntries = (opts.config ?? []).map((kv) => {
    const i = kv.indexOf('=');
    if (i < 1) throw new Error(`--config ${kv}: expected key=value`);
    return { name: kv.slice(0, i), value: kv.slice(i + 1) };
  });
  const timeoutMs = Number(opts.timeout ?? 30000);
  const deadline = Date.now() + timeoutMs;

  return withAdmin(bootstrap, async (admin) => {
    /** true: created; false: it exists already (created since listTopics ran) */
    const create = async (topic) => {
      for (;;) {
        try {
          return await admin.createTopics({
            topics: [{ topic, numPartitions, replicationFactor, configEntries }],
            waitForLeaders: false,
            timeout: Math.min(10000, timeoutMs),
          });
        } catch (e) {
          if (!isRetriable(e) || Date.now() >= deadline) {
            throw new Error(`create ${topic}: ${errorTypes(e).join(', ')}: ${message(e)}`);
          }
          await sleep(300);
        }
      }
    };

    const existing = new Set(await admin.listTopics());
    const missing = names.filter((n) => !existing.has(n));
    // one request per topic (in parallel): kafkajs only says whether all of a request's topics were new
    const created = await Promise.all(missing.map(create));
    missing.forEach((topic, i) => {
      if (!created[i]) existing.add(topic);
    });
    for (const topic of names) {
      console.log(
        existing.has(topic)
          ? `topic ${topic} already exists`
          : `created topic ${topic} (${numPartitions} partitions, rf ${replicationFactor})`,
      );
    }

    // wait until every partition has a leader, so clients never see LEADER_NOT_AVAILABLE
    // (kafkajs fails the metadata call while a partition has no leader)
    const { topics } = await poll(deadline, 50, async () => {
      const md = await admin.fetchTopicMetadata({ topics: names });
      return md.topics.every((t) => t.partitions.every((p) => p.leader >= 0)) ? md : undefined;
    }).catch((e) => {
      throw new Error(`topics not ready: ${message(e)}`);
    });
    for (const t of topics) {
      if (t.partitions.length !== numPartitions) {
        console.warn(
          `warning: topic ${t.name} exists with ${t.partitions.length} partitions, not ${numPartitions}`,
        );
      }
    }

    // existing topics keep their settings: say where they differ from what was asked
    const old = names.filter((n) => existing.has(n));
    if (old.length > 0 && configEntries.length > 0) {
      const { resources } = await admin.describeConfigs({
        includeSynonyms: false,
        resources: old.map((name) => ({
          type: ConfigResourceTypes.TOPIC,
          name,
          configNames: configEntries.map((c) => c.name),
        })),
      });
      for (const r of resources) {
        for (const want of configEntries) {
          const have = r.configEntries.find((c) => c.configName === want.name);
          if (have && have.configValue !== want.value) {
            console.warn(
              `warning: topic ${r.resourceName} has ${want.name}=${have.configValue}, not ${want.value} (existing topics are not changed)`,
            );
          }
        }
      }
    }
    return 0;
  });
}

async function cmdWaitIsr(bootstrap, opts, names) {
  const deadline = Date.now() + Number(opts.timeout ?? 60000);
  try {
    await poll(deadline, 250, () =>
      withAdmin(bootstrap, async (admin) => {
        const { topics } = await admin.fetchTopicMetadata({ topics: names }); // [] = all topics
        const lagging = topics.flatMap((t) =>
          t.partitions
            .filter((p) => p.leader < 0 || p.isr.length < p.replicas.length)
            .map((p) => `${t.name}-${p.partitionId}`),
        );
        if (lagging.length === 0) return true;
        return new Error(
          `${lagging.length} partition(s) not fully in sync: ${lagging.slice(0, 5).join(', ')}`,
        );
      }),
    );
    return 0;
  } catch (e) {
    console.error(`wait-isr: ${message(e)}`);
    return 1;
  }
}

async function cmdDescribe(bootstrap, names) {
  // a dead node may still be listed in metadata for a few seconds after a crash: try again
  return poll(Date.now() + 2000, 100, () =>
    withAdmin(bootstrap, async (admin) => {
      const all = new Set(await admin.listTopics());
      const wanted = names.length > 0 ? names : [...all].sort();
      const found = wanted.filter((n) => all.has(n));
      const { topics } =
        found.length > 0 ? await admin.fetchTopicMetadata({ topics: found }) : { topics: [] };
      let rc = 0;
      for (const name of wanted) {
        const t = topics.find((x) => x.name === name);
        if (!t) {
          rc = 1;
          console.log(JSON.stringify({ topic: name, error: 'UNKNOWN_TOPIC_OR_PARTITION' }));
          continue;
        }
        const parts = [...t.partitions].sort((a, b) => a.partitionId - b.partitionId);
        console.log(
          JSON.stringify({
            topic: name,
            partitions: parts.length,
            leaders: parts.map((p) => p.leader),
            replicas: parts.map((p) => p.replicas),
            isr: parts.map((p) => p.isr),
          }),
        );
      }
      return rc;
    }),
  );
}

// ------------------------------------------------------------------------------ main

const USAGE =
  'usage: kafka-admin.cjs [--bootstrap host:port[,host:port]] ready|ensure-topics|wait-isr|describe [options] [topic...]';

async function main(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        bootstrap: { type: 'string' },
        brokers: { type: 'string' },
        timeout: { type: 'string' },
        partitions: { type: 'string' },
        'replication-factor': { type: 'string' },
        config: { type: 'string', multiple: true },
        quiet: { type: 'boolean', short: 'q' },
      },
    });
  } catch (e) {
    console.error(`${e.message}\n${USAGE}`);
    return 2;
  }
  const { values: opts, positionals } = parsed;
  const [cmd, ...names] = positionals;
  const bootstrap = (opts.bootstrap ?? process.env.KAFKA_BROKERS ?? '127.0.0.1:9092')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  switch (cmd) {
    case 'ready':
      return cmdReady(bootstrap, opts);
    case 'ensure-topics':
      return cmdEnsureTopics(bootstrap, opts, names);
    case 'wait-isr':
      return cmdWaitIsr(bootstrap, opts, names);
    case 'describe':
      return cmdDescribe(bootstrap, names);
    default:
      console.error(USAGE);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (rc) => process.exit(rc ?? 0),
  (e) => {
    console.error(`kafka-admin: ${message(e)}`);
    process.exit(1);
  },
);
