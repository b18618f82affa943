import { BenchArgsError, HELP, benchArgs, parseBenchArgs, usage } from './bench-args';

const SPEC = {
  usage: 'node dist/bench/example.bench.js [options]',
  summary: 'An example benchmark.',
  options: {
    duration: { kind: 'number', description: 'seconds per run', default: 10, smoke: 1 },
    rounds: { kind: 'integer', description: 'runs of each variant', default: 3, smoke: 1 },
    batches: {
      kind: 'integers',
      description: 'ops per batch',
      default: [1, 100, 1000],
      smoke: [1, 100],
    },
    rates: { kind: 'numbers', description: 'offered ops/s', default: [250, 500] },
    raw: { kind: 'texts', description: 'raw producer modes', default: ['idempotent'] },
    store: { kind: 'text', choices: ['file', 'memory'], description: 'store', default: 'file' },
    max: { kind: 'integer', zero: true, description: 'up to this size', default: 100 },
    'feed-page': { kind: 'integer', description: 'feed page size' },
    'cpu-prof': { kind: 'text', value: 'DIR', description: 'CPU profiles into DIR' },
    smoke: { kind: 'flag', description: 'a check, not a measurement' },
  },
} as const;

const parse = (...argv: string[]) => parseBenchArgs(SPEC, argv);
const failure = (...argv: string[]): string => {
  try {
    parse(...argv);
  } catch (error) {
    expect(error).toBeInstanceOf(BenchArgsError);
    return (error as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
};

describe('parseBenchArgs', () => {
  it('gives the defaults when nothing is given, the smoke defaults under --smoke', () => {
    expect(parse()).toEqual({
      duration: 10,
      rounds: 3,
      batches: [1, 100, 1000],
      rates: [250, 500],
      raw: ['idempotent'],
      store: 'file',
      max: 100,
      'feed-page': undefined,
      'cpu-prof': undefined,
      smoke: false,
    });
    expect(parse('--smoke')).toMatchObject({
      smoke: true,
      duration: 1,
      rounds: 1,
      batches: [1, 100],
      rates: [250, 500],
    });
  });

  it('takes values as `--name value` and `--name=value`; a given value beats the smoke default', () => {
    expect(
      parse('--smoke', '--rounds', '5', '--duration=2.5', '--cpu-prof', '/tmp/p', '--max', '0'),
    ).toMatchObject({ smoke: true, rounds: 5, duration: 2.5, 'cpu-prof': '/tmp/p', max: 0 });
  });

  it('parses comma lists of numbers and of text (empty for none)', () => {
    expect(parse('--batches', '1,20,200', '--rates', '0.5,1e3')).toMatchObject({
      batches: [1, 20, 200],
      rates: [0.5, 1000],
    });
    expect(parse('--raw', 'idempotent,transactional')).toMatchObject({
      raw: ['idempotent', 'transactional'],
    });
    expect(parse('--raw', '')).toMatchObject({ raw: [] });
  });

  it('rejects an unknown option, naming it', () => {
    expect(failure('--round', '1')).toBe('unknown option --round');
    expect(failure('--smoke', '-x')).toBe('unknown option -x');
  });

  it('rejects an option without its value', () => {
    expect(failure('--rounds')).toBe('--rounds needs a value (N)');
    expect(failure('--cpu-prof', '--smoke')).toBe('--cpu-prof needs a value (DIR)');
    expect(failure('--smoke=yes')).toBe('--smoke takes no value');
  });

  it('rejects a value not of its kind', () => {
    expect(failure('--rounds', 'abc')).toBe("--rounds: 'abc' is not a positive integer");
    expect(failure('--rounds', '1.5')).toBe("--rounds: '1.5' is not a positive integer");
    expect(failure('--rounds', '0')).toBe("--rounds: '0' is not a positive integer");
    expect(failure('--rounds', '-1')).toBe("--rounds: '-1' is not a positive integer");
    expect(failure('--duration', '')).toBe("--duration: '' is not a positive number");
    expect(failure('--max', '-1')).toBe("--max: '-1' is not a non-negative integer");
    expect(failure('--batches', '1,x')).toBe("--batches: 'x' is not a positive integer");
    expect(failure('--batches', '')).toBe('--batches needs a positive integer list');
    expect(failure('--rates', '1,NaN')).toBe("--rates: 'NaN' is not a positive number");
    expect(failure('--store', 'disk')).toBe("--store: 'disk' is not one of file, memory");
  });

  it('checks each item of a texts option with choices; an empty list stays allowed', () => {
    const spec = {
      usage: 'node dist/bench/example.bench.js [options]',
      summary: 'An example benchmark.',
      options: {
        raw: {
          kind: 'texts',
          choices: ['idempotent', 'transactional'],
          description: "raw producer modes ('' for none)",
          default: ['idempotent', 'transactional'],
        },
      },
    } as const;
    expect(parseBenchArgs(spec, [])).toEqual({ raw: ['idempotent', 'transactional'] });
    expect(parseBenchArgs(spec, ['--raw', 'transactional'])).toEqual({ raw: ['transactional'] });
    expect(parseBenchArgs(spec, ['--raw', ''])).toEqual({ raw: [] });
    expect(() => parseBenchArgs(spec, ['--raw', 'idempotent,transactonal'])).toThrow(
      "--raw: 'transactonal' is not one of idempotent, transactional",
    );
    expect(usage(spec)).toContain('  --raw idempotent|transactional,...\n');
  });

  it('rejects positional arguments unless the spec declares them', () => {
    expect(failure('extra')).toBe("unexpected argument 'extra'");
  });

  it('answers HELP to --help and -h, whatever else is on the line', () => {
    expect(parse('--help')).toBe(HELP);
    expect(parse('-h')).toBe(HELP);
    expect(parse('--rounds', '2', '--help')).toBe(HELP);
    expect(parse('--round', 'x', '--help')).toBe(HELP);
  });

  it('checks declared positional arguments in order', () => {
    const spec = {
      usage: 'node client.js mode records [page]',
      summary: 'A child.',
      options: {},
      args: {
        mode: { kind: 'text', choices: ['snapshot', 'sync'], description: 'what to do' },
        records: { kind: 'integer', zero: true, description: 'records expected' },
        page: { kind: 'integer', optional: true, description: 'page size' },
      },
    } as const;
    expect(parseBenchArgs(spec, ['sync', '0'])).toEqual({
      mode: 'sync',
      records: 0,
      page: undefined,
    });
    expect(parseBenchArgs(spec, ['snapshot', '3', '100'])).toMatchObject({ page: 100 });
    expect(() => parseBenchArgs(spec, ['sync'])).toThrow('missing argument records');
    expect(() => parseBenchArgs(spec, ['pull', '1'])).toThrow(
      "mode: 'pull' is not one of snapshot, sync",
    );
    expect(() => parseBenchArgs(spec, ['sync', '1', '2', '3'])).toThrow("unexpected argument '3'");
  });
});

describe('usage', () => {
  it('lists every option with its value, description and defaults', () => {
    const text = usage(SPEC);
    expect(text).toMatch(/^usage: node dist\/bench\/example\.bench\.js \[options\]\n/);
    expect(text).toContain('An example benchmark.');
    expect(text).toMatch(/--rounds N +runs of each variant \(default 3; --smoke: 1\)\n/);
    expect(text).toMatch(
      /--batches N,\.\.\. +ops per batch \(default 1,100,1000; --smoke: 1,100\)/,
    );
    expect(text).toMatch(/--store file\|memory +store \(default file\)/);
    expect(text).toMatch(/--cpu-prof DIR +CPU profiles into DIR\n/);
    expect(text).toMatch(/--smoke +a check, not a measurement\n/);
    expect(text).toMatch(/-h, --help +print this and exit\n/);
  });
});

describe('benchArgs', () => {
  let exit: jest.SpyInstance;
  let stdout: jest.SpyInstance;
  let stderr: jest.SpyInstance;
  class Exited extends Error {
    constructor(readonly code: number | undefined) {
      super(`exit ${code}`);
    }
  }

  beforeEach(() => {
    exit = jest.spyOn(process, 'exit').mockImplementation((code) => {
      throw new Exited(code as number | undefined);
    });
    stdout = jest.spyOn(process.stdout, 'write').mockImplementation(() => true);
    stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
  });
  afterEach(() => jest.restoreAllMocks());

  const exitCode = (argv: string[]): number | undefined => {
    try {
      benchArgs(SPEC, argv);
    } catch (error) {
      if (error instanceof Exited) return error.code;
      throw error;
    }
    return undefined;
  };

  it('returns the values of a good command line', () => {
    expect(benchArgs(SPEC, ['--rounds', '2']).rounds).toBe(2);
    expect(exit).not.toHaveBeenCalled();
  });

  it('prints the usage to stdout and exits 0 on --help', () => {
    expect(exitCode(['--help'])).toBe(0);
    expect(stdout).toHaveBeenCalledWith(usage(SPEC));
    expect(stderr).not.toHaveBeenCalled();
  });

  it('prints the error and the usage to stderr and exits 2 on a bad command line', () => {
    expect(exitCode(['--round', '1'])).toBe(2);
    expect(stderr).toHaveBeenCalledWith(`error: unknown option --round\n\n${usage(SPEC)}`);
    expect(stdout).not.toHaveBeenCalled();
  });
});
