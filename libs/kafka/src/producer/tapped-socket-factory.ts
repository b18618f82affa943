import { Socket } from 'node:net';
import type { ISocketFactory } from 'kafkajs';
import { kafkajsSocketFactory } from './kafkajs-internals';
import type { RequestTap } from './publish-outcome';

/**
 * A socket factory whose every connection reports its reads and writes to `tap`, and which,
 * once the tap is closed, connects nowhere and refuses to write: kafkajs' retry loop (which
 * reconnects even a disconnected producer) can then no longer reach any broker.
 */
export function tappedSocketFactory(
  tap: RequestTap,
  sockets: ISocketFactory = kafkajsSocketFactory,
): ISocketFactory {
  return (args) => {
    if (tap.closed) {
      const dead = new Socket();
      setImmediate(() => dead.destroy(new Error('this producer was replaced')));
      return dead;
    }
    const socket = sockets(args);
    const connection = tap.connection();
    // Attached before kafkajs' own listener: a produce answer is counted before kafkajs acts on it.
    socket.on('data', (chunk: Buffer) => connection.read(chunk));
    const write = socket.write.bind(socket) as (...args: unknown[]) => boolean;
    socket.write = (chunk: unknown, ...rest: unknown[]) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
      if (connection.write(bytes)) return write(chunk, ...rest);
      socket.destroy(new Error('this producer was replaced'));
      return false;
    };
    return socket;
  };
}
