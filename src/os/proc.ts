// Facts about other processes, from signals and /proc: alive or not, start time, command line.

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

/** A process's start time (clock ticks after boot, /proc/PID/stat field 22): with the pid, it names one process. */
export function startTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

/** The longest command line `commandOf` returns (longer ones end in an ellipsis). */
export const MAX_COMMAND_CHARS = 120;

/**
 * What a person would call a process: its command line from /proc/PID/cmdline, the program as a
 * base name (`node /usr/bin/glassdome unlock` is `glassdome unlock`), or null when it is gone.
 */
export function commandOf(pid: number): string | null {
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter((a) => a !== '');
  } catch {
    return null;
  }
  if (argv.length === 0) return null;
  const base = (p: string): string => p.slice(p.lastIndexOf('/') + 1);
  // The glassdome CLI runs as `node …/glassdome ARGS` or `node …/bin/run.js ARGS`.
  const script = argv[1] ?? '';
  const glassdome = /^node(js)?$/.test(base(argv[0]!)) && (base(script) === 'glassdome' || script.endsWith('/bin/run.js'));
  const words = glassdome ? ['glassdome', ...argv.slice(2)] : [base(argv[0]!), ...argv.slice(1)];
  const text = words.join(' ').replace(/[\u0000-\u001f\u007f]/g, '?');
  return text.length > MAX_COMMAND_CHARS ? `${text.slice(0, MAX_COMMAND_CHARS - 1)}…` : text;
}
