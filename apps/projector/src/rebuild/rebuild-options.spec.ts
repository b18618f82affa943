import { DEFAULT_REBUILD_OPTIONS } from './projection-rebuild.service';
import { RebuildUsageError, parseRebuildArgs } from './rebuild-options';

describe('rebuild options', () => {
  it('defaults to a switch that keeps the previous tables', () => {
    expect(parseRebuildArgs([])).toEqual({ help: false, options: DEFAULT_REBUILD_OPTIONS });
  });

  it('reads every option', () => {
    expect(
      parseRebuildArgs([
        '--drop-old',
        '--max-lag',
        '50',
        '--lock-timeout',
        '2000',
        '--catch-up-timeout',
        '3000',
        '--attempts',
        '2',
        '--from-topic',
        'sync.operations',
      ]),
    ).toEqual({
      help: false,
      options: {
        dryRun: false,
        dropOld: true,
        maxLag: 50,
        lockTimeoutMs: 2000,
        catchUpTimeoutMs: 3000,
        attempts: 2,
        fromTopic: 'sync.operations',
      },
    });
    for (const flag of ['--dry-run', '--no-switch']) {
      const parsed = parseRebuildArgs([flag]);
      expect(parsed.help === false && parsed.options.dryRun).toBe(true);
    }
    expect(parseRebuildArgs(['-h'])).toEqual({ help: true });
  });

  it.each([
    [['--bogus']],
    [['extra']],
    [['--max-lag', 'ten']],
    [['--max-lag', '-1']],
    [['--attempts', '0']],
    [['--dry-run', '--drop-old']],
    [['--dry-run', '--from-topic', 'sync.operations']],
    [['--from-topic', '']],
  ])('refuses %j', (argv) => {
    expect(() => parseRebuildArgs(argv)).toThrow(RebuildUsageError);
  });
});
