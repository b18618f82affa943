import { readFileSync } from 'node:fs';
import { normalizeUuid } from '@sync/protocol';
import { UsageError } from './cli-http';

/** What a command reads and writes: the process's streams, or a test's. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Progress line: rewritten in place on a terminal, one line per update otherwise. */
  progress: (text: string) => void;
  stdin: () => string;
  env: NodeJS.ProcessEnv;
}

export function libraryArg(args: string[], required: true): string;
export function libraryArg(args: string[], required: false): string | undefined;
export function libraryArg(args: string[], required: boolean): string | undefined {
  if (args[0] === undefined) {
    if (required) throw new UsageError('missing <libraryId>');
    return undefined;
  }
  const id = normalizeUuid(args[0]);
  if (id === null) throw new UsageError(`libraryId must be a UUID, got ${JSON.stringify(args[0])}`);
  return id;
}

export function intOption(
  raw: string | undefined,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  if (raw === undefined) return fallback;
  const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(value >= min && value <= max)) {
    throw new UsageError(
      `--${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

export function processIo(): Io {
  const tty = process.stderr.isTTY === true;
  return {
    out: (text) => process.stdout.write(text),
    err: (text) => process.stderr.write(text),
    progress: (text) => process.stderr.write(tty ? `\r\x1b[K${text}` : `${text}\n`),
    stdin: () => readFileSync(0, 'utf8'),
    env: process.env,
  };
}
