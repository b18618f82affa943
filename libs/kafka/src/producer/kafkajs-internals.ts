import { connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { ISocketFactory, Kafka } from 'kafkajs';

/*
 * Everything the operation producer takes from kafkajs beyond its public API, in one place
 * (kafkajs-internals.spec.ts fails on a kafkajs version these were not checked against):
 *
 * - kafkajs sends EndTxn once per transaction and offers no way to send it again, yet the
 *   commit whose answer was lost must be repeated to learn whether it happened. kafkajs' own
 *   cluster class (same settings, same sockets as the producer's client) can send it; kafkajs
 *   2.x keeps its factory under a private symbol, so this is checked whenever a producer is made.
 * - kafkajs' default socket factory is not exported; the request tap wraps a copy of it.
 * - kafkajs groups a request's messages per partition with `messages.reduce`, copying the
 *   partition's array for every message it adds: quadratic in a partition's messages (a batch
 *   of 1000 ops spent ~5 % of the ingest's CPU there), and building an object per message even
 *   when done linearly. See linearlyGrouped.
 */

/** The kafkajs version the code below was checked against. */
export const KAFKAJS_VERSION_CHECKED = '2.2.4';

export const TRANSACTION_COORDINATOR = 1;

export interface EndTxnArgs {
  transactionalId: string;
  /** Decimal string (kafkajs encodes it as an int64). */
  producerId: string;
  producerEpoch: number;
  /** true = commit. */
  transactionResult: boolean;
}

/** The parts of kafkajs' cluster and broker classes that send an EndTxn. */
export interface CoordinatorClient {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  findGroupCoordinator(args: {
    groupId: string;
    coordinatorType: number;
  }): Promise<{ endTxn(args: EndTxnArgs): Promise<unknown> }>;
}

/** kafkajs' cluster factory of `kafka`; throws if this kafkajs version has none. */
export function clusterFactory(kafka: Kafka): (options: object) => CoordinatorClient {
  const key = Object.getOwnPropertySymbols(kafka).find(
    (symbol) => symbol.description === 'private:Kafka:createCluster',
  );
  const create = key === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[key];
  if (typeof create !== 'function') {
    throw new Error('this kafkajs version has no cluster factory: a commit could not be repeated');
  }
  return create as (options: object) => CoordinatorClient;
}

/** A new, unconnected client on `kafka`'s settings for sending EndTxn requests. */
export function coordinatorClient(kafka: Kafka): CoordinatorClient {
  return clusterFactory(kafka)({ allowAutoTopicCreation: false });
}

const KEEP_ALIVE_DELAY_MS = 60_000;

/** kafkajs' own socket factory (not exported by kafkajs): TCP or TLS with keep-alive. */
export const kafkajsSocketFactory: ISocketFactory = ({ host, port, ssl, onConnect }) => {
  const socket = ssl
    ? tlsConnect({ host, port, ...(isIP(host) ? {} : { servername: host }), ...ssl }, onConnect)
    : netConnect({ host, port }, onConnect);
  socket.setKeepAlive(true, KEEP_ALIVE_DELAY_MS);
  return socket;
};

type GroupStep = (groups: object, message: unknown, index: number, all: unknown[]) => unknown;

/** The one partition a grouping step put a lone message in, or undefined for another shape. */
function loneGroup(step: GroupStep, message: unknown, index: number, all: unknown[]) {
  const single = step({}, message, index, all);
  if (single === null || typeof single !== 'object') return undefined;
  const keys = Object.keys(single);
  if (keys.length !== 1) return undefined;
  const group = (single as Record<string, unknown>)[keys[0]];
  return Array.isArray(group) && group.length === 1 && group[0] === message ? keys[0] : undefined;
}

/**
 * A copy of messages whose reduce, given an empty plain object to start from (kafkajs' grouping),
 * runs kafkajs' step on the first message of each run of messages with the same key (by
 * identity) alone, so its partitioner still places it, and appends the whole run to that
 * partition's array in place: the same groups, in the same order, in linear time, with one call
 * of the partitioner per run. That holds for a partitioner that places a message by its key
 * alone, as kafkajs' default does for keyed messages and keyedPartitioner does. A step that
 * answers in any other shape gets Array's own reduce, from the start.
 */
export function linearlyGrouped<T extends { key?: unknown }>(messages: readonly T[]): T[] {
  const copy = messages.slice();
  Object.defineProperty(copy, 'reduce', {
    value(this: T[], ...args: Parameters<T[]['reduce']>): unknown {
      const [step, initial] = args as unknown as [GroupStep, unknown];
      const standard = (): unknown => Reflect.apply(Array.prototype.reduce, this, args);
      const empty =
        args.length === 2 &&
        initial !== null &&
        typeof initial === 'object' &&
        Object.getPrototypeOf(initial) === Object.prototype &&
        Object.keys(initial).length === 0;
      if (!empty) return standard();
      const groups: Record<string, T[]> = {};
      for (let index = 0; index < this.length;) {
        const partition = loneGroup(step, this[index], index, this);
        if (partition === undefined) return standard();
        const key = this[index].key;
        const group = (groups[partition] ??= []);
        do group.push(this[index++]);
        while (index < this.length && this[index].key === key);
      }
      return Object.assign(initial, groups);
    },
  });
  return copy;
}
