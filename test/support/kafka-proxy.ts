import {
  type AddressInfo,
  type Server,
  type Socket,
  createConnection,
  createServer,
} from 'node:net';

/**
 * A TCP proxy in front of ONE real Kafka broker that a test can cut and restore, to see what a
 * client does when the broker becomes unreachable, without touching the shared broker.
 *
 * Kafka clients connect to the addresses the broker advertises in Metadata (and FindCoordinator)
 * responses, not to the bootstrap address, so the proxy rewrites those to itself; every
 * connection of the client then goes through it. Only the non-flexible protocol versions
 * kafkajs speaks are rewritten (Metadata v1-v8, FindCoordinator v0-v2).
 */

const API_PRODUCE = 0;
const API_METADATA = 3;
const API_FIND_COORDINATOR = 10;

export type CutMode =
  /** Connections are closed and new ones refused, like a stopped broker. */
  | 'refuse'
  /** Connections are closed; new ones are accepted but never answered, like a hung broker. */
  | 'blackhole';

/**
 * Decides the fate of the n-th Produce request (1-based) since the hook was set:
 * 'forward'; 'cut-request' (the proxy cuts before forwarding it: the broker never sees it);
 * 'cut-response' (the broker gets it, the client never hears back). Both cuts leave the proxy
 * in 'refuse' mode until restore().
 */
export type ProduceAction = 'forward' | 'cut-request' | 'cut-response';

interface Upstream {
  host: string;
  port: number;
}

export class KafkaProxy {
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private mode: 'open' | CutMode = 'open';
  private produceHook: ((n: number) => ProduceAction) | null = null;
  private hookedApiKey = API_PRODUCE;
  private produceCount = 0;
  /** Produce requests the broker received through the proxy. */
  producesForwarded = 0;

  private constructor(
    private readonly upstream: Upstream,
    public port: number,
  ) {}

  /** Starts a proxy for `upstream` ("host:port") on a free local port. */
  static async start(upstream: string): Promise<KafkaProxy> {
    const [host, port] = upstream.split(':');
    const proxy = new KafkaProxy({ host: host ?? '127.0.0.1', port: Number(port) }, 0);
    await proxy.listen();
    return proxy;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Makes the broker unreachable through the proxy. */
  async cut(mode: CutMode = 'refuse'): Promise<void> {
    this.mode = mode;
    this.destroyAll();
    if (mode === 'refuse') await this.stopListening();
  }

  /** Makes the broker reachable again, on the same port. */
  async restore(): Promise<void> {
    this.mode = 'open';
    this.destroyAll();
    if (this.server === null) await this.listen();
  }

  /** `apiKey`: the requests the hook decides on (default Produce; e.g. 26 for EndTxn). */
  onProduce(hook: ((n: number) => ProduceAction) | null, apiKey = API_PRODUCE): void {
    this.produceHook = hook;
    this.hookedApiKey = apiKey;
    this.produceCount = 0;
  }

  async close(): Promise<void> {
    this.mode = 'refuse';
    this.destroyAll();
    await this.stopListening();
  }

  private listen(): Promise<void> {
    const server = createServer((client) => this.accept(client));
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => {
        server.off('error', reject);
        this.port = (server.address() as AddressInfo).port;
        this.server = server;
        resolve();
      });
    });
  }

  private stopListening(): Promise<void> {
    const server = this.server;
    this.server = null;
    if (server === null) return Promise.resolve();
    return new Promise((resolve) => server.close(() => resolve()));
  }

  private destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  private track(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
  }

  private accept(client: Socket): void {
    this.track(client);
    if (this.mode !== 'open') {
      // Blackhole: read and drop everything, answer nothing.
      if (this.mode === 'blackhole') client.on('data', () => undefined);
      else client.destroy();
      return;
    }
    const upstream = createConnection(this.upstream);
    this.track(upstream);
    const closeBoth = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', closeBoth);
    upstream.on('close', closeBoth);

    /** correlation id -> [api key, api version] of requests in flight on this connection. */
    const inFlight = new Map<number, [number, number]>();
    const dropResponses = new Set<number>();

    client.on(
      'data',
      frames((frame) => {
        const apiKey = frame.readInt16BE(4);
        const apiVersion = frame.readInt16BE(6);
        const correlationId = frame.readInt32BE(8);
        inFlight.set(correlationId, [apiKey, apiVersion]);
        if (apiKey === this.hookedApiKey && this.produceHook !== null) {
          const action = this.produceHook(++this.produceCount);
          if (action === 'cut-request') {
            void this.cut('refuse');
            return;
          }
          if (action === 'cut-response') dropResponses.add(correlationId);
        }
        if (apiKey === API_PRODUCE) this.producesForwarded++;
        upstream.write(frame);
      }),
    );

    upstream.on(
      'data',
      frames((frame) => {
        const correlationId = frame.readInt32BE(4);
        const request = inFlight.get(correlationId);
        inFlight.delete(correlationId);
        if (dropResponses.has(correlationId)) {
          void this.cut('refuse');
          return;
        }
        const [apiKey, apiVersion] = request ?? [-1, -1];
        client.write(this.rewrite(apiKey, apiVersion, frame));
      }),
    );
  }

  /** Points advertised broker addresses at the proxy. */
  private rewrite(apiKey: number, apiVersion: number, frame: Buffer): Buffer {
    if (apiKey === API_METADATA && apiVersion >= 1 && apiVersion <= 8) {
      return this.rewriteMetadata(frame, apiVersion);
    }
    if (apiKey === API_FIND_COORDINATOR && apiVersion <= 2) {
      return this.rewriteFindCoordinator(frame, apiVersion);
    }
    return frame;
  }

  private rewriteMetadata(frame: Buffer, version: number): Buffer {
    const reader = new Reader(frame, 8); // size + correlation id
    if (version >= 3) reader.skip(4); // throttle_time_ms
    const head = frame.subarray(4, reader.offset);
    const count = reader.int32();
    const brokers: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const nodeId = reader.int32();
      reader.string(); // host
      reader.int32(); // port
      const rackStart = reader.offset;
      reader.nullableString();
      const rack = frame.subarray(rackStart, reader.offset);
      brokers.push(
        Buffer.concat([int32(nodeId), kafkaString('127.0.0.1'), int32(this.port), rack]),
      );
    }
    return withSize(Buffer.concat([head, int32(count), ...brokers, frame.subarray(reader.offset)]));
  }

  private rewriteFindCoordinator(frame: Buffer, version: number): Buffer {
    const reader = new Reader(frame, 8);
    if (version >= 1) reader.skip(4); // throttle_time_ms
    reader.skip(2); // error_code
    if (version >= 1) reader.nullableString(); // error_message
    const nodeId = reader.int32();
    const head = frame.subarray(4, reader.offset - 4);
    reader.string();
    reader.int32();
    return withSize(
      Buffer.concat([
        head,
        int32(nodeId),
        kafkaString('127.0.0.1'),
        int32(this.port),
        frame.subarray(reader.offset),
      ]),
    );
  }
}

/** Splits a TCP stream into size-prefixed Kafka frames (each passed with its size prefix). */
function frames(onFrame: (frame: Buffer) => void): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  return (chunk) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readInt32BE(0);
      if (pending.length < 4 + size) break;
      onFrame(pending.subarray(0, 4 + size));
      pending = pending.subarray(4 + size);
    }
  };
}

class Reader {
  constructor(
    private readonly buffer: Buffer,
    public offset: number,
  ) {}

  skip(bytes: number): void {
    this.offset += bytes;
  }

  int32(): number {
    const value = this.buffer.readInt32BE(this.offset);
    this.offset += 4;
    return value;
  }

  string(): string {
    const length = this.buffer.readInt16BE(this.offset);
    const value = this.buffer.toString('utf8', this.offset + 2, this.offset + 2 + length);
    this.offset += 2 + length;
    return value;
  }

  nullableString(): string | null {
    const length = this.buffer.readInt16BE(this.offset);
    if (length < 0) {
      this.offset += 2;
      return null;
    }
    return this.string();
  }
}

function int32(value: number): Buffer {
  const buffer = Buffer.alloc(4);
  buffer.writeInt32BE(value);
  return buffer;
}

function kafkaString(value: string): Buffer {
  const bytes = Buffer.from(value, 'utf8');
  const length = Buffer.alloc(2);
  length.writeInt16BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** Prefixes a frame body (correlation id onwards) with its size. */
function withSize(body: Buffer): Buffer {
  return Buffer.concat([int32(body.length), body]);
}
