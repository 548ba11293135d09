// Facts about other processes, from signals and /proc.

import fs from 'node:fs';

/** Whether a process still runs. A zombie waiting for its (possibly slow) reaper has exited. */
export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()?.[0] !== 'Z';
  } catch {
    return false;
  }
}
