import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/*
 * Ports for processes a test starts (brokers, Postgres, services in child processes). A port is
 * probed free, then bound later by another process: if it lies in the kernel's ephemeral range,
 * any outgoing connection made meanwhile (thousands, while a load runs) can take it, and the
 * broker dies with "Address already in use". So ports come from below that range.
 */

const LOWEST = 20_000;

/** First port of the kernel's ephemeral range (Linux; 32768 where it cannot be read). */
function ephemeralStart(): number {
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/)
      .map(Number);
    return Number.isInteger(start) && start > LOWEST + 1000 ? start : 32_768;
  } catch {
    return 32_768;
  }
}

const HIGHEST = ephemeralStart();

/** `count` consecutive ports free now, below the ephemeral range. */
export async function freePortRange(count: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST - count));
    const checks = await Promise.all(Array.from({ length: count }, (_, i) => portFree(base + i)));
    if (checks.every(Boolean)) return base;
  }
  throw new Error(`no ${count} consecutive free ports found in ${LOWEST}-${HIGHEST - 1}`);
}

/** A port free now, below the ephemeral range. */
export function freePort(): Promise<number> {
  return freePortRange(1);
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}
