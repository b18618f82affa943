import { readFileSync, readdirSync, readlinkSync } from 'node:fs';

/**
 * Where the CPU and memory go, from Linux /proc: one process, a server and all its children
 * (Postgres), the process listening on a TCP port (the Kafka broker). Every reader answers
 * undefined rather than throwing when the process is gone or /proc is not there.
 */

const MS_PER_TICK = 10; // USER_HZ is 100 on Linux

interface Stat {
  ppid: number;
  /** utime + stime, ms. */
  ownMs: number;
  /** cutime + cstime: children that ended and were waited for, ms. */
  reapedMs: number;
}

function readStat(pid: number): Stat | undefined {
  try {
    const line = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // After "pid (comm) ": state is [0], ppid [1], utime [11], stime [12], cutime [13], cstime [14].
    const fields = line.slice(line.lastIndexOf(')') + 2).split(' ');
    return {
      ppid: Number(fields[1]),
      ownMs: (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK,
      reapedMs: (Number(fields[13]) + Number(fields[14])) * MS_PER_TICK,
    };
  } catch {
    return undefined;
  }
}

function allPids(): number[] {
  try {
    return readdirSync('/proc')
      .filter((name) => /^\d+$/.test(name))
      .map(Number);
  } catch {
    return [];
  }
}

/** CPU (user + system) one process has used, ms; undefined when it cannot be read. */
export function processCpuMs(pid: number | undefined): number | undefined {
  return pid === undefined ? undefined : readStat(pid)?.ownMs;
}

/**
 * CPU of a server process and every child it has had, ms: its own time, its reaped children's
 * (so backends that ended between two readings still count) and its live children's.
 */
export function processTreeCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  const root = readStat(pid);
  if (!root) return undefined;
  let total = root.ownMs + root.reapedMs;
  for (const child of allPids()) {
    const stat = readStat(child);
    if (stat?.ppid === pid) total += stat.ownMs;
  }
  return total;
}

/** The command line of a process, arguments joined by spaces ('' when unreadable). */
export function commandLine(pid: number | undefined): string {
  if (pid === undefined) return '';
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim();
  } catch {
    return '';
  }
}

export function parentPid(pid: number): number | undefined {
  return readStat(pid)?.ppid;
}

/** Resident set size, MiB. */
export function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** The process holding the socket that listens on TCP `port` (any address), if readable. */
export function pidListeningOn(port: number): number | undefined {
  const inodes = new Set<string>();
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      // local_address is [1] as HEXADDR:HEXPORT, state [3] (0A = LISTEN), inode [9].
      if (cols.length > 9 && cols[3] === '0A' && cols[1].endsWith(`:${hexPort}`)) {
        inodes.add(`socket:[${cols[9]}]`);
      }
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of allPids()) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      try {
        if (inodes.has(readlinkSync(`/proc/${pid}/fd/${fd}`))) return pid;
      } catch {
        // closed meanwhile
      }
    }
  }
  return undefined;
}
