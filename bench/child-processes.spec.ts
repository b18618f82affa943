import { execFile } from 'node:child_process';
import { join } from 'node:path';

/*
 * bench/child-processes.ts in a process of its own (from the sources, through the test suite's
 * swc hook): a signal or an uncaught error stops the children, then runs the cleanups still
 * registered, then exits.
 */

const ROOT = join(__dirname, '..');

/** Runs `script` (after the module is loaded as `bench`) in a node process of its own. */
function run(script: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const prelude = `const bench = require(${JSON.stringify(join(__dirname, 'child-processes.ts'))});`;
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['-r', join(ROOT, 'test', 'projector.child-register.js'), '-e', `${prelude}\n${script}`],
      { cwd: ROOT, timeout: 20_000 },
      (error, stdout, stderr) =>
        resolve({
          code: error ? (typeof error.code === 'number' ? error.code : null) : 0,
          stdout,
          stderr,
        }),
    );
  });
}

/** A cleanup that takes a while, then says so on stdout. */
const SLOW_CLEANUP = `((what) => bench.cleanUpWithBench(what, async () => {
  await new Promise((resolve) => setTimeout(resolve, 200));
  console.log('cleaned ' + what);
}))`;

describe('cleanUpWithBench and dieWithBench', () => {
  it('on SIGINT: children stopped first, then the registered cleanups, then exit 130', async () => {
    const { code, stdout, stderr } = await run(`
      const { spawn } = require('node:child_process');
      const child = bench.dieWithBench(spawn('sleep', ['60']));
      const exited = new Promise((resolve) => child.once('exit', (c, signal) => resolve(signal)));
      bench.cleanUpWithBench('the database', async () => console.log('child ' + (await exited)));
      const register = ${SLOW_CLEANUP};
      register('the topics');
      const done = register('done already');
      // As a benchmark's own failure path does once its children are gone: waits, keeps 130.
      bench.cleanUpWithBench('a failing one', async () => {
        process.exit(1);
        throw new Error('no such topic');
      });
      done().then(() => process.kill(process.pid, 'SIGINT'));
      setInterval(() => undefined, 1000);
    `);
    expect(code).toBe(130);
    expect(stdout.split('\n').filter(Boolean).sort()).toEqual([
      'child SIGTERM',
      'cleaned done already',
      'cleaned the topics',
    ]);
    expect(stderr).toContain('SIGINT: cleaning up the database; the topics; a failing one\n');
    expect(stderr).toContain('cleaning up a failing one failed: Error: no such topic\n');
    expect(stderr).not.toContain('left behind');
  });

  it('while ending: nothing new can be registered, a child spawned then is stopped', async () => {
    const { code, stdout } = await run(`
      const { spawn } = require('node:child_process');
      bench.cleanUpWithBench('the database', () => new Promise((resolve) => setTimeout(resolve, 500)));
      // The benchmark's code, still running after the signal.
      process.on('SIGINT', () => {
        try {
          bench.cleanUpWithBench('the topics', async () => undefined);
        } catch (error) {
          console.log('refused: ' + error.message);
        }
        const late = bench.dieWithBench(spawn('sleep', ['60']));
        late.once('exit', (c, signal) => console.log('late child ' + signal));
      });
      setTimeout(() => process.kill(process.pid, 'SIGINT'), 50);
      setInterval(() => undefined, 1000);
    `);
    expect(code).toBe(130);
    expect(stdout).toBe(
      'refused: the benchmark is ending: the topics not created\nlate child SIGTERM\n',
    );
  });

  it('a second signal ends it at once, naming the cleanups left undone', async () => {
    const { code, stderr } = await run(`
      bench.cleanUpWithBench('the database', () => new Promise(() => setInterval(() => undefined, 1000)));
      process.kill(process.pid, 'SIGINT');
      setTimeout(() => process.kill(process.pid, 'SIGTERM'), 200);
    `);
    expect(code).toBe(143);
    expect(stderr).toBe('SIGINT: cleaning up the database\nleft behind: the database\n');
  });

  it('on an uncaught error or rejection: printed, cleanups run, exit 1', async () => {
    const [thrown, rejected] = await Promise.all([
      run(`${SLOW_CLEANUP}('the database');
        setTimeout(() => { throw new Error('boom'); }, 10);`),
      run(`${SLOW_CLEANUP}('the database');
        setTimeout(() => void Promise.reject(new Error('bang')), 10);`),
    ]);
    expect(thrown).toMatchObject({ code: 1, stdout: 'cleaned the database\n' });
    expect(thrown.stderr).toMatch(/^uncaught error: Error: boom\n/);
    expect(rejected).toMatchObject({ code: 1, stdout: 'cleaned the database\n' });
    expect(rejected.stderr).toMatch(/^unhandled rejection: Error: bang\n/);
  });

  it('on the normal path: a cleanup run once, nothing left behind, the exit code untouched', async () => {
    const { code, stdout, stderr } = await run(`
      const cleanup = ${SLOW_CLEANUP}('the database');
      Promise.all([cleanup(), cleanup()]).then(() => process.exit(3));
    `);
    expect({ code, stdout, stderr }).toEqual({
      code: 3,
      stdout: 'cleaned the database\n',
      stderr: '',
    });
  });

  it('a process.exit with a cleanup still registered names it on stderr', async () => {
    const { code, stderr } = await run(`${SLOW_CLEANUP}('the database'); process.exit(1);`);
    expect(code).toBe(1);
    expect(stderr).toBe('left behind: the database\n');
  });
});
