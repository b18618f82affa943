import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Kafka, logLevel } from 'kafkajs';
import { freePort, freePortRange } from '../../support/free-ports';
import { REPO_ROOT, sleep } from './services';

/*
 * Kafka brokers of the fault scenarios' own, started with scripts/kafka/kafka.sh on free
 * loopback ports and in a throwaway cache directory, so restarting or killing them never
 * touches the shared broker (127.0.0.1:9092) or anyone else's cluster. The jars come from the
 * project's cache (linked, not copied).
 */

const execFileAsync = promisify(execFile);
const SCRIPT = join(REPO_ROOT, 'scripts', 'kafka', 'kafka.sh');

async function kafkaScript(command: string[], env: Record<string, string>): Promise<string> {
  try {
    const { stdout, stderr } = await execFileAsync('bash', [SCRIPT, ...command], {
      env: { ...process.env, ...env },
      maxBuffer: 16 * 1024 * 1024,
      timeout: 5 * 60 * 1000,
    });
    return `${stdout}${stderr}`;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`kafka.sh ${command.join(' ')} failed:\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

/** A fresh cache directory whose jar folder links to the project's (fetched once if missing). */
export async function scratchCache(): Promise<{ dir: string; remove(): void }> {
  const shared = process.env.KAFKA_CACHE_DIR ?? join(REPO_ROOT, '.cache', 'kafka');
  await kafkaScript(['fetch'], { KAFKA_CACHE_DIR: shared });
  const dir = mkdtempSync(join(tmpdir(), 'fault-kafka-'));
  for (const version of readdirSync(shared)) {
    if (existsSync(join(shared, version, 'libs', '.fetched'))) {
      symlinkSync(join(shared, version), join(dir, version));
    }
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** One broker+controller of our own, which a test may stop, kill and start again. */
export class OwnBroker {
  private constructor(
    private readonly env: Record<string, string>,
    readonly port: number,
    private readonly cache: { dir: string; remove(): void },
  ) {}

  static async start(): Promise<OwnBroker> {
    const cache = await scratchCache();
    const port = await freePort();
    let controller = await freePort();
    while (controller === port) controller = await freePort();
    const broker = new OwnBroker(
      {
        KAFKA_CACHE_DIR: cache.dir,
        KAFKA_PORT: String(port),
        KAFKA_CONTROLLER_PORT: String(controller),
        KAFKA_HEAP_OPTS: '-Xms128m -Xmx512m',
      },
      port,
      cache,
    );
    try {
      await broker.startAgain();
    } catch (error) {
      await broker.destroy();
      throw error;
    }
    return broker;
  }

  get brokers(): string[] {
    return [`127.0.0.1:${this.port}`];
  }

  /** Starts the (stopped) broker on the same ports and data; resolves once it is ready. */
  async startAgain(): Promise<void> {
    await kafkaScript(['start'], this.env);
  }

  /** Graceful stop (SIGTERM, controlled shutdown). */
  async stop(): Promise<void> {
    await kafkaScript(['stop'], this.env);
  }

  /** SIGKILL: a crash. */
  async kill(): Promise<void> {
    const pid = this.pid();
    if (pid === undefined) return;
    process.kill(pid, 'SIGKILL');
    while (existsSync(`/proc/${pid}`)) await sleep(50);
  }

  pid(): number | undefined {
    const file = join(this.cache.dir, 'run', `broker-${this.port}`, 'kafka.pid');
    if (!existsSync(file)) return undefined;
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && existsSync(`/proc/${pid}`) ? pid : undefined;
  }

  async destroy(): Promise<void> {
    await this.kill().catch(() => undefined);
    this.cache.remove();
  }
}

/** A 3-node KRaft cluster of our own (rf 3, min.insync.replicas 2), in kafka.sh cluster mode. */
export class OwnCluster {
  private constructor(
    private readonly env: Record<string, string>,
    readonly basePort: number,
    readonly size: number,
    private readonly cache: { dir: string; remove(): void },
  ) {}

  /** Starts the cluster and creates `topics` (with `partitions` partitions, rf 3, min ISR 2). */
  static async start(options: {
    size?: number;
    operationsTopic: string;
    deadLetterTopic: string;
    partitions: number;
  }): Promise<OwnCluster> {
    const size = options.size ?? 3;
    const cache = await scratchCache();
    const base = await freePortRange(size);
    let controllers = await freePortRange(size);
    while (Math.abs(controllers - base) < size) controllers = await freePortRange(size);
    const cluster = new OwnCluster(
      {
        KAFKA_CACHE_DIR: cache.dir,
        KAFKA_CLUSTER_SIZE: String(size),
        KAFKA_CLUSTER_BASE_PORT: String(base),
        KAFKA_CLUSTER_CONTROLLER_BASE_PORT: String(controllers),
        KAFKA_PARTITIONS: String(options.partitions),
        SYNC_TOPIC: options.operationsTopic,
        SYNC_DLQ_TOPIC: options.deadLetterTopic,
      },
      base,
      size,
      cache,
    );
    try {
      await kafkaScript(['start-cluster'], cluster.env);
    } catch (error) {
      // The nodes that did start would outlive the test (it never gets the cluster to destroy).
      await cluster.destroy();
      throw error;
    }
    return cluster;
  }

  get brokers(): string[] {
    return Array.from({ length: this.size }, (_, i) => `127.0.0.1:${this.basePort + i}`);
  }

  /** Node number (1-based) of a broker id: kafka.sh gives node N the id N. */
  async leaders(topic: string): Promise<Map<number, number>> {
    const admin = new Kafka({
      clientId: 'fault-cluster',
      brokers: this.brokers,
      logLevel: logLevel.NOTHING,
      // kafkajs allows 1 s to connect by default: too little on a machine busy with the load.
      connectionTimeout: 10_000,
    }).admin();
    await admin.connect();
    try {
      const { topics } = await admin.fetchTopicMetadata({ topics: [topic] });
      const counts = new Map<number, number>();
      for (const p of topics[0].partitions) counts.set(p.leader, (counts.get(p.leader) ?? 0) + 1);
      return counts;
    } finally {
      await admin.disconnect();
    }
  }

  async killNode(node: number): Promise<void> {
    await kafkaScript(['kill-node', String(node)], this.env);
  }

  /** Starts the node again; resolves once every partition has its full ISR again. */
  async startNode(node: number): Promise<void> {
    await kafkaScript(['start-node', String(node)], this.env);
  }

  async destroy(): Promise<void> {
    await kafkaScript(['stop-cluster'], this.env).catch(() => undefined);
    this.cache.remove();
  }
}
