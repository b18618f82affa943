import { type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';

/*
 * The processes a benchmark spawns (services, client processes) die with it. The benchmarks stop
 * their children in order on the normal paths; this is for the others: an uncaught error or
 * rejection (an EPIPE on stdout piped into `head` is one), process.exit from a failure handler,
 * SIGINT, SIGTERM or SIGHUP. Each child still running then gets SIGTERM; a signal ends the
 * benchmark with 128 + its number (130 for SIGINT, 143 for SIGTERM).
 */

const running = new Set<ChildProcess>();
let installed = false;

/** Registers `child` to be sent SIGTERM if this process ends while it still runs. */
export function dieWithBench<T extends ChildProcess>(child: T): T {
  install();
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

function stopChildren(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
  // Once each: a second SIGTERM would cut a service's own orderly shutdown short.
  running.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  // 'exit' is also emitted when an uncaught exception or rejection ends the process.
  process.once('exit', stopChildren);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      stopChildren();
      process.exit(128 + constants.signals[signal]);
    });
  }
}
