/** CPU time of processes from /proc (Linux), to cost each end-to-end case per request on every process involved. */
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ: 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** User + system CPU of one process so far, µs; NaN when it cannot be read (gone, not Linux). */
export function processCpuMicros(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    return ((Number(fields[11]) + Number(fields[12])) * 1e6) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** Pids whose parent is `pid` (nginx's workers under its master). */
export function childPids(pid: number): number[] {
  const found: number[] = [];
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return found;
  }
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** CPU µs of a group of processes (summed), read before and after a measured slice. */
export function groupCpuMicros(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    const micros = processCpuMicros(pid);
    if (Number.isFinite(micros)) total += micros;
  }
  return total;
}
