import { parseArgs } from 'node:util';

/*
 * The benchmarks' command lines, one way: each benchmark declares its options once (kind,
 * one-line description, default) and calls benchArgs(). `--help` prints the usage and exits 0;
 * an unknown option, a missing value or a value not of its option's kind prints one line naming
 * the option, then the usage, to stderr and exits 2, before any work starts.
 */

/**
 * An option's kind: numbers must be positive (or zero where `zero` says so); the plural kinds are
 * comma-separated lists.
 */
export type Kind = 'flag' | 'text' | 'texts' | 'integer' | 'integers' | 'number' | 'numbers';

interface KindValue {
  flag: boolean;
  text: string;
  texts: readonly string[];
  integer: number;
  integers: readonly number[];
  number: number;
  numbers: readonly number[];
}

export interface OptionSpec<K extends Kind = Kind> {
  kind: K;
  /** One line for the usage. */
  description: string;
  /** The value when the option is not given; without one, the value is undefined then. */
  default?: KindValue[K];
  /** The default under `--smoke` (for a benchmark with a `smoke` flag), where it differs. */
  smoke?: KindValue[K];
  /** The values a text option (or each item of a texts option) may take. */
  choices?: readonly string[];
  /** Numbers may be 0 as well. */
  zero?: boolean;
  /** What the usage calls the value (default N, N,N,... or TEXT). */
  value?: string;
  /** A positional argument that may be left out (bench/bootstrap-client.ts). */
  optional?: boolean;
}

/** One option of any kind, its default of that kind. */
type AnyOption = { [K in Kind]: OptionSpec<K> }[Kind];
type Specs = Record<string, AnyOption>;
const isList = (kind: Kind) => kind === 'texts' || kind === 'integers' || kind === 'numbers';

export interface BenchSpec<O extends Specs, P extends Specs> {
  /** The command, e.g. `node dist/bench/ingest.bench.js [options]`. */
  usage: string;
  /** What the benchmark does, a line or two. */
  summary: string;
  options: O;
  /** Positional arguments, in this order; each required unless `optional`. */
  args?: P;
}

type OptionValue<S extends OptionSpec> = S['kind'] extends 'flag'
  ? boolean
  : S extends { default: unknown }
    ? KindValue[S['kind']]
    : KindValue[S['kind']] | undefined;
type ArgValue<S extends OptionSpec> = S extends { optional: true }
  ? KindValue[S['kind']] | undefined
  : KindValue[S['kind']];

export type BenchValues<O extends Specs, P extends Specs = Record<never, AnyOption>> = {
  [N in keyof O]: OptionValue<O[N]>;
} & { [N in keyof P]: ArgValue<P[N]> };

/** A command line the benchmark cannot run with; the message is one line naming the option. */
export class BenchArgsError extends Error {}

/** What parseBenchArgs answers to `--help` / `-h`. */
export const HELP = 'help';

/** The usage text: command, summary, every option with its description and default. */
export function usage<O extends Specs, P extends Specs>(spec: BenchSpec<O, P>): string {
  const rows: [string, string][] = [];
  for (const [name, option] of Object.entries(spec.args ?? {})) {
    rows.push([option.optional ? `[${name}]` : name, describe(option)]);
  }
  for (const [name, option] of Object.entries(spec.options)) {
    const value = option.kind === 'flag' ? '' : ` ${valueName(option)}`;
    rows.push([`--${name}${value}`, describe(option)]);
  }
  rows.push(['-h, --help', 'print this and exit']);
  // A long left column (e.g. a list of choices) puts its description on the next line.
  const width = Math.min(22, Math.max(...rows.map(([left]) => left.length)) + 2);
  const row = ([left, right]: [string, string]) =>
    left.length + 2 > width
      ? `  ${left}\n  ${' '.repeat(width)}${right}`
      : `  ${left.padEnd(width)}${right}`;
  return [
    `usage: ${spec.usage}`,
    '',
    spec.summary,
    '',
    spec.args ? 'arguments and options:' : 'options:',
    ...rows.map(row),
    '',
  ].join('\n');
}

function valueName(option: OptionSpec): string {
  if (option.value) return option.value;
  const one = option.choices?.join('|') ?? (option.kind.startsWith('text') ? 'TEXT' : 'N');
  return isList(option.kind) ? `${one},...` : one;
}

function describe(option: OptionSpec): string {
  const shown = (value: unknown) =>
    Array.isArray(value) ? value.join(',') || "''" : String(value);
  const defaults = [
    option.default === undefined || option.kind === 'flag'
      ? ''
      : `default ${shown(option.default)}`,
    option.smoke === undefined ? '' : `--smoke: ${shown(option.smoke)}`,
  ].filter(Boolean);
  return defaults.length === 0
    ? option.description
    : `${option.description} (${defaults.join('; ')})`;
}

/** Checks `raw` against the option's kind; throws BenchArgsError naming `what`. */
function convert(what: string, option: OptionSpec, raw: string): unknown {
  const list = isList(option.kind);
  const items = list ? raw.split(',').filter((item) => item !== '') : [raw];
  const text = option.kind === 'text' || option.kind === 'texts';
  if (text && option.choices) {
    const wrong = items.find((item) => !option.choices!.includes(item));
    if (wrong !== undefined) {
      throw new BenchArgsError(`${what}: '${wrong}' is not one of ${option.choices.join(', ')}`);
    }
  }
  if (text) return list ? items : raw;
  const integer = option.kind === 'integer' || option.kind === 'integers';
  const wanted = `${option.zero ? 'a non-negative' : 'a positive'} ${integer ? 'integer' : 'number'}`;
  if (items.length === 0) throw new BenchArgsError(`${what} needs ${wanted}${list ? ' list' : ''}`);
  const numbers = items.map((item) => {
    const value = /^\s*$/.test(item) ? NaN : Number(item);
    const ok =
      Number.isFinite(value) &&
      (!integer || Number.isInteger(value)) &&
      (option.zero ? value >= 0 : value > 0);
    if (!ok) throw new BenchArgsError(`${what}: '${item}' is not ${wanted}`);
    return value;
  });
  return list ? numbers : numbers[0];
}

/**
 * The values of `argv` under `spec`, or HELP when it asks for the usage. Throws BenchArgsError
 * for anything the spec does not accept.
 */
export function parseBenchArgs<O extends Specs, P extends Specs = Record<never, AnyOption>>(
  spec: BenchSpec<O, P>,
  argv: readonly string[],
): BenchValues<O, P> | typeof HELP {
  const { tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      Object.entries(spec.options).map(([name, option]) => [
        name,
        { type: option.kind === 'flag' ? ('boolean' as const) : ('string' as const) },
      ]),
    ),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  if (tokens.some((t) => t.kind === 'option' && (t.name === 'help' || t.name === 'h'))) return HELP;
  const given = new Map<string, string | true>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') positionals.push(token.value);
    if (token.kind !== 'option') continue;
    const option = Object.hasOwn(spec.options, token.name) ? spec.options[token.name] : undefined;
    if (option === undefined) throw new BenchArgsError(`unknown option ${token.rawName}`);
    if (option.kind === 'flag') {
      if (token.value !== undefined) throw new BenchArgsError(`${token.rawName} takes no value`);
      given.set(token.name, true);
    } else if (
      token.value === undefined ||
      // `--rounds --smoke`: the next option is not a value (a negative number is, and fails).
      (!token.inlineValue && /^-(?![\d.])/.test(token.value))
    ) {
      throw new BenchArgsError(`${token.rawName} needs a value (${valueName(option)})`);
    } else given.set(token.name, token.value);
  }
  const values: Record<string, unknown> = {};
  const smoke = given.get('smoke') === true;
  for (const [name, option] of Object.entries(spec.options)) {
    const raw = given.get(name);
    if (option.kind === 'flag') values[name] = raw === true;
    else if (typeof raw === 'string') values[name] = convert(`--${name}`, option, raw);
    else values[name] = (smoke ? option.smoke : undefined) ?? option.default;
  }
  const args = Object.entries(spec.args ?? {});
  if (positionals.length > args.length) {
    throw new BenchArgsError(`unexpected argument '${positionals[args.length]}'`);
  }
  args.forEach(([name, option], i) => {
    if (i < positionals.length) values[name] = convert(name, option, positionals[i]);
    else if (!option.optional) throw new BenchArgsError(`missing argument ${name}`);
  });
  return values as BenchValues<O, P>;
}

/**
 * parseBenchArgs on this process's command line, for a benchmark's first line: prints the usage
 * and exits 0 on `--help`; prints the error and the usage to stderr and exits 2 on a bad command
 * line.
 */
export function benchArgs<O extends Specs, P extends Specs = Record<never, AnyOption>>(
  spec: BenchSpec<O, P>,
  argv: readonly string[] = process.argv.slice(2),
): BenchValues<O, P> {
  let parsed: BenchValues<O, P> | typeof HELP;
  try {
    parsed = parseBenchArgs(spec, argv);
  } catch (error) {
    if (!(error instanceof BenchArgsError)) throw error;
    process.stderr.write(`error: ${error.message}\n\n${usage(spec)}`);
    process.exit(2);
  }
  if (parsed === HELP) {
    process.stdout.write(usage(spec));
    process.exit(0);
  }
  return parsed;
}

/** The `--cpu-prof DIR` option; `description` says which processes write profiles there. */
export function cpuProfileOption(description: string): OptionSpec<'text'> {
  return { kind: 'text', value: 'DIR', description };
}

/** Node's arguments that make a spawned process write its CPU profile into `dir`, if one is given. */
export function cpuProfileArgs(dir: string | undefined): string[] {
  return dir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`];
}
