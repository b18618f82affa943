import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';

interface RebuildIo {
  out: (text: string) => void;
  err: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

export const REBUILD_USAGE = `  rebuild [options]              Rebuild the projection from the topic into new tables while the
                                 live ones serve, then switch atomically (runs the projector's
                                 rebuild with this environment; rebuild --help for options)`;

/**
 * The projector's rebuild entry point, beside this file's own build: dist/apps/cli/src ->
 * dist/apps/projector/src (or the TypeScript sources when the CLI itself runs from them).
 */
export function rebuildEntryPoint(): string {
  return path.resolve(__dirname, '../../projector/src', `rebuild.main${path.extname(__filename)}`);
}

/**
 * `rebuild`: runs the projector's rebuild as a child process (apps do not import each other),
 * with this process's environment and the given options; returns its exit code. Progress and the
 * result pass through; on a terminal stderr is shared, so the progress line is rewritten in place.
 */
export function rebuildCommand(args: readonly string[], io: RebuildIo): Promise<number> {
  const entry = rebuildEntryPoint();
  if (!existsSync(entry)) {
    io.err(`error: ${entry} not found: build first (npm run build)\n`);
    return Promise.resolve(1);
  }
  const shareStderr = process.stderr.isTTY === true;
  return new Promise((resolve) => {
    // execArgv carries a loader when the CLI runs from the TypeScript sources.
    const child = spawn(process.execPath, [...process.execArgv, entry, ...args], {
      env: io.env,
      stdio: ['ignore', 'pipe', shareStderr ? 'inherit' : 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => io.out(chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => io.err(chunk.toString()));
    // The child decides what an interrupt means (drop the new tables, exit 130); Ctrl-C reaches
    // it from the terminal, other senders only reach this process.
    const forward = (signal: NodeJS.Signals) => () => {
      if (!shareStderr || signal !== 'SIGINT') child.kill(signal);
    };
    const onInt = forward('SIGINT');
    const onTerm = forward('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
    const done = (code: number) => {
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve(code);
    };
    child.on('error', (error) => {
      io.err(`error: cannot start the rebuild: ${error.message}\n`);
      done(1);
    });
    child.on('close', (code, signal) => done(code ?? (signal === 'SIGINT' ? 130 : 1)));
  });
}
