// Finding the sockets glassdome agents of this uid listen on, wherever they were put (`agent -a`):
// from /proc, the processes of this uid that run an agent (`…/agent/main.js`, as the CLI starts
// one, or `glassdome agent` in the foreground), their socket descriptors, and the listening Unix
// sockets of /proc/net/unix with those inodes. Only what this process's namespaces show: an agent
// in another mount or network namespace (a container) is not found.

import fs from 'node:fs';

/** At most this many processes are looked at (a bound on the scan, far above a login's). */
export const MAX_PROCESSES_SCANNED = 65_536;

/** __SO_ACCEPTCON in /proc/net/unix's Flags: a listening socket. */
const ACCEPTING = 0x10000;

/** A listening socket of an agent process: its path, the pid, and the home its command line names (`--home`), if it does. */
export interface AgentSocket {
  pid: number;
  socketPath: string;
  home: string | null;
}

/** The listening Unix sockets of agent processes of this uid, or why they cannot be found. */
export function agentSockets(): { sockets: AgentSocket[] } | { problem: string } {
  let pids: number[];
  let listening: Map<string, string>;
  try {
    pids = fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n)).slice(0, MAX_PROCESSES_SCANNED).map(Number);
    listening = listeningPaths(fs.readFileSync('/proc/net/unix', 'utf8'));
  } catch (err) {
    return { problem: `/proc cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
  }
  const uid = process.getuid?.() ?? 0;
  const sockets: AgentSocket[] = [];
  for (const pid of pids) {
    const argv = pid === process.pid || ownerOf(pid) !== uid ? null : agentArgv(pid);
    if (!argv) continue;
    const at = argv.indexOf('--home');
    const home = at >= 0 ? (argv[at + 1] ?? null) : null;
    for (const inode of socketInodes(pid)) {
      const socketPath = listening.get(inode);
      if (socketPath !== undefined) sockets.push({ pid, socketPath, home });
    }
  }
  return { sockets };
}

/** Listening sockets with a path in /proc/net/unix's text, by inode. */
function listeningPaths(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n').slice(1)) {
    // Num: RefCount Protocol Flags Type St Inode Path (the path is the rest of the line, absent when unbound)
    const fields = line.trim().split(/\s+/);
    if (fields.length < 8 || (parseInt(fields[3]!, 16) & ACCEPTING) === 0) continue;
    const socketPath = fields.slice(7).join(' ');
    if (socketPath.startsWith('/')) out.set(fields[6]!, socketPath); // not abstract (@…)
  }
  return out;
}

/** A process's real uid, or null when it is gone. */
function ownerOf(pid: number): number | null {
  try {
    const line = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return line ? Number(line[1]) : null;
  } catch {
    return null;
  }
}

/** The command line of a process that runs a glassdome agent (`node …/agent/main.js --home … --socket …`, as the CLI starts one, or `glassdome agent` in the foreground); else null. */
function agentArgv(pid: number): string[] | null {
  let argv: string[];
  try {
    argv = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
  } catch {
    return null;
  }
  // As launchAgent starts one: any other program's …/agent/main.js is not asked (nor named to be killed).
  if (argv.some((a) => a.endsWith('/agent/main.js')) && argv.includes('--home') && argv.includes('--socket')) return argv;
  const script = argv.findIndex((a) => /(^|\/)(glassdome|run\.js|lean\.js)$/.test(a));
  return script >= 0 && argv[script + 1] === 'agent' ? argv : null;
}

/** The inodes of a process's socket descriptors. */
function socketInodes(pid: number): string[] {
  const dir = `/proc/${pid}/fd`;
  let fds: string[];
  try {
    fds = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const fd of fds) {
    try {
      const target = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`${dir}/${fd}`));
      if (target) out.push(target[1]!);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}
