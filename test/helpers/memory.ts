// Reading another process's memory for copies of secrets (through /proc/PID/mem: root only for a
// non-dumpable process such as the agent).
import fs from 'node:fs';

/** How often each of `needles` occurs in a process's readable memory (name -> count, absent if none). */
export function scanMemory(pid: number, needles: Record<string, Buffer>): Record<string, number> {
  const found: Record<string, number> = {};
  const overlap = Math.max(...Object.values(needles).map((n) => n.length)) - 1;
  const chunk = Buffer.alloc(1 << 20);
  const step = chunk.length - overlap;
  const mem = fs.openSync(`/proc/${pid}/mem`, 'r');
  try {
    for (const line of fs.readFileSync(`/proc/${pid}/maps`, 'utf8').trim().split('\n')) {
      const [range, perms] = line.split(' ');
      if (!perms!.startsWith('r') || line.endsWith('[vvar]') || line.endsWith('[vsyscall]')) continue;
      const [start, end] = range!.split('-').map((h) => parseInt(h, 16)) as [number, number];
      for (let at = start; at < end; at += step) {
        let n: number;
        try {
          n = fs.readSync(mem, chunk, 0, Math.min(chunk.length, end - at), at);
        } catch {
          break; // an unreadable mapping (device memory, guard pages)
        }
        const last = at + n >= end;
        const view = chunk.subarray(0, n);
        for (const [name, needle] of Object.entries(needles)) {
          for (let i = view.indexOf(needle); i !== -1; i = view.indexOf(needle, i + 1)) {
            if (i < step || last) found[name] = (found[name] ?? 0) + 1; // the overlap counts in the next read
          }
        }
        if (n === 0) break;
      }
    }
  } finally {
    fs.closeSync(mem);
  }
  return found;
}
