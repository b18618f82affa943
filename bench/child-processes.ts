import { type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import type { Admin } from 'kafkajs';
import { dropDatabase } from '@sync/persistence';

/*
 * What a benchmark starts dies with it: the processes it spawns (services, client processes) and
 * the databases and topics it creates. The benchmarks stop and remove them in order on the normal
 * paths; this is for the others.
 *
 * SIGINT, SIGTERM or SIGHUP: each child still running gets SIGTERM, then the registered cleanups
 * run (at most CLEANUP_MS in all, a failure printed on stderr), then the benchmark exits with
 * 128 + the signal's number (130 for SIGINT, 143 for SIGTERM); another signal meanwhile ends it
 * at once, with that signal's code. An uncaught error or rejection (an EPIPE on stdout piped into
 * `head` is one) is printed and does the same, exit 1. Meanwhile the benchmark's own code runs
 * on: it cannot register (so create) anything new, a child it spawns is stopped at once, and its
 * failure path's process.exit waits for the cleanups and leaves the exit code alone. A
 * process.exit from a failure handler at any other time stops the children only (an exit cannot
 * wait) and names on stderr what it leaves behind.
 */

const CLEANUP_MS = 10_000;

const running = new Set<ChildProcess>();
const cleanups = new Set<{ what: string; run: () => Promise<void> }>();
let installed = false;
let ending = false;
/** process.exit itself: end() puts a waiting one in its place. */
const exit = process.exit.bind(process);

/** Registers `child` to be sent SIGTERM if this process ends while it still runs. */
export function dieWithBench<T extends ChildProcess>(child: T): T {
  install();
  // Spawned while the benchmark ends (its own code still runs): stopped at once (after spawn()).
  if (ending) setImmediate(() => child.kill('SIGTERM'));
  running.add(child);
  child.once('exit', () => running.delete(child));
  return child;
}

/**
 * Registers `cleanup` (drop this database, delete these topics) to run if a signal or an uncaught
 * error ends the benchmark; register it just before creating the resource. Returns the cleanup
 * for the normal path: calling it unregisters and runs it (once; a later call gets the same
 * promise). Once the benchmark is ending this throws instead, so nothing new gets created.
 */
export function cleanUpWithBench(
  what: string,
  cleanup: () => Promise<unknown>,
): () => Promise<void> {
  if (ending) throw new Error(`the benchmark is ending: ${what} not created`);
  install();
  let done: Promise<void> | undefined;
  const entry = {
    what,
    // Unregistered when it settles: a signal during the normal path's cleanup waits for it.
    run: () =>
      (done ??= Promise.resolve()
        .then(cleanup)
        .then(() => undefined)
        .finally(() => cleanups.delete(entry))),
  };
  cleanups.add(entry);
  return entry.run;
}

function stopChildren(): void {
  for (const child of running) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  }
  // Once each: a second SIGTERM would cut a service's own orderly shutdown short.
  running.clear();
}

/** Stops the children, runs the cleanups (bounded), exits with `code`. */
function end(code: number, why: string): void {
  if (ending) return;
  ending = true;
  process.exitCode = code;
  stopChildren();
  process.exit = (() => undefined) as typeof process.exit;
  const pending = [...cleanups];
  if (pending.length > 0) {
    process.stderr.write(`${why}: cleaning up ${pending.map((c) => c.what).join('; ')}\n`);
  }
  const runs = pending.map((cleanup) =>
    cleanup.run().catch((error: unknown) => {
      process.stderr.write(`cleaning up ${cleanup.what} failed: ${String(error)}\n`);
    }),
  );
  const timeout = new Promise((resolve) => setTimeout(resolve, CLEANUP_MS).unref());
  void Promise.race([Promise.all(runs), timeout]).then(() => exit(code));
}

function install(): void {
  if (installed) return;
  installed = true;
  // Also after an uncaught error once the cleanups are done (or have timed out).
  process.once('exit', () => {
    stopChildren();
    for (const { what } of cleanups) process.stderr.write(`left behind: ${what}\n`);
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      const code = 128 + constants.signals[signal];
      if (ending) exit(code);
      else end(code, signal);
    });
  }
  // An unhandled rejection comes here too (Node's default --unhandled-rejections=throw).
  process.on('uncaughtException', (error, origin) => {
    if (ending) {
      // Often a consequence of the cleanup (a connection to the dropped database): one line.
      process.stderr.write(`(while ending) ${String(error)}\n`);
      return;
    }
    console.error(
      origin === 'unhandledRejection' ? 'unhandled rejection:' : 'uncaught error:',
      error,
    );
    end(1, origin);
  });
}

/** cleanUpWithBench for a database the benchmark creates at `url` (register before creating it). */
export function dropDatabaseWithBench(url: string): () => Promise<void> {
  return cleanUpWithBench(`database ${new URL(url).pathname.slice(1)}`, () => dropDatabase(url));
}

/** cleanUpWithBench for topics the benchmark creates through `admin`. */
export function deleteTopicsWithBench(admin: Admin, topics: string[]): () => Promise<void> {
  return cleanUpWithBench(`topics ${topics.join(', ')}`, () => admin.deleteTopics({ topics }));
}
