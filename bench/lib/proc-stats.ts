import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Clock ticks per second of /proc/PID/stat's utime and stime (USER_HZ; 100 on every Linux we run on). */
const CLOCK_TICKS_PER_SECOND = 100;

/** cpuSeconds reads user+system CPU time of `pid` from /proc/PID/stat; NaN if the process is gone. */
export function cpuSeconds(pid: number): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return Number.NaN;
  }
  // The command name (field 2) is in parentheses and may contain spaces: split after the last ')'.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // Fields after the name start at field 3 (state); utime is field 14 and stime field 15.
  const utime = Number(fields[14 - 3]);
  const stime = Number(fields[15 - 3]);
  return (utime + stime) / CLOCK_TICKS_PER_SECOND;
}

/** statusKb reads one "Vm..." line (in kB) of /proc/PID/status; NaN if absent. */
export function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/status`, 'latin1');
  } catch {
    return Number.NaN;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m === null ? Number.NaN : Number(m[1]);
}

/** sumCpuSeconds sums cpuSeconds over `pids` (ignoring ones that are gone). */
export function sumCpuSeconds(pids: readonly number[]): number {
  let total = 0;
  for (const pid of pids) {
    const s = cpuSeconds(pid);
    if (Number.isFinite(s)) total += s;
  }
  return total;
}

/** dirBytes is the total size of the regular files under `dir` (bounded depth 8). */
export function dirBytes(dir: string, depth = 0): number {
  if (depth > 8) return 0;
  let total = 0;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return 0;
  }
  for (const name of names) {
    const path = join(dir, name);
    try {
      const st = statSync(path);
      if (st.isDirectory()) total += dirBytes(path, depth + 1);
      else if (st.isFile()) total += st.size;
    } catch {
      // vanished while listing (LevelDB compaction)
    }
  }
  return total;
}
