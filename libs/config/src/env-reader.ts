/**
 * Reads typed settings from the environment and collects every bad value, so a service
 * refuses to start with one message naming all of them instead of failing later.
 */
export class EnvReader {
  private readonly problems: string[] = [];

  constructor(private readonly env: NodeJS.ProcessEnv = process.env) {}

  string(name: string, fallback: string): string {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    return raw;
  }

  optionalString(name: string): string | undefined {
    const raw = this.env[name];
    return raw === undefined || raw === '' ? undefined : raw;
  }

  int(
    name: string,
    fallback: number,
    min = Number.MIN_SAFE_INTEGER,
    max = Number.MAX_SAFE_INTEGER,
  ): number {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!/^-?\d+$/.test(raw.trim()) || !Number.isSafeInteger(value) || value < min || value > max) {
      this.problems.push(
        `${name}=${JSON.stringify(raw)}: expected an integer from ${min} to ${max}`,
      );
      return fallback;
    }
    return value;
  }

  port(name: string, fallback: number): number {
    return this.int(name, fallback, 0, 65535);
  }

  bool(name: string, fallback: boolean): boolean {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    this.problems.push(`${name}=${JSON.stringify(raw)}: expected true or false`);
    return fallback;
  }

  /** Comma-separated host:port list. */
  brokers(name: string, fallback: string): string[] {
    const raw = this.string(name, fallback);
    const list = raw
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
    const bad = list.filter((entry) => !/^[^\s:]+:\d{1,5}$/.test(entry));
    if (list.length === 0 || bad.length > 0) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected host:port[,host:port...]`);
      return fallback.split(',');
    }
    return list;
  }

  url(name: string, fallback: string, protocols: string[]): string {
    const raw = this.string(name, fallback);
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
    } catch {
      this.problems.push(`${name}: expected a ${protocols.join(' or ')} URL`);
      return fallback;
    }
    return raw;
  }

  oneOf<T extends string>(name: string, fallback: T, allowed: readonly T[]): T {
    const raw = this.env[name];
    if (raw === undefined || raw === '') return fallback;
    if (!(allowed as readonly string[]).includes(raw)) {
      this.problems.push(`${name}=${JSON.stringify(raw)}: expected one of ${allowed.join(', ')}`);
      return fallback;
    }
    return raw as T;
  }

  /**
   * A setting that `parse` reads and checks itself (throwing on a bad value): its message joins the
   * others and the result is undefined, which done() then rules out.
   */
  parsed<T>(name: string, parse: () => T): T | undefined {
    try {
      return parse();
    } catch (error) {
      this.problems.push(`${name}: ${error instanceof Error ? error.message : String(error)}`);
      return undefined;
    }
  }

  /** A problem that spans several settings (one is only wrong next to another). */
  problem(message: string): void {
    this.problems.push(message);
  }

  /** Throws one error listing every bad variable read so far. */
  done(service: string): void {
    if (this.problems.length > 0) {
      throw new ConfigError(
        `${service}: invalid configuration:\n${this.problems.map((p) => `  - ${p}`).join('\n')}`,
      );
    }
  }
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}
