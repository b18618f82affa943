/**
 * A benchmark's command line as `--name value` pairs; `--smoke` is the one flag without a value
 * (a few seconds' check that the benchmark still works, not a measurement).
 */
export function benchArgs(argv: readonly string[] = process.argv.slice(2)): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i].replace(/^--/, '');
    if (name === 'smoke') args.set(name, 'true');
    else args.set(name, argv[++i] ?? '');
  }
  return args;
}
