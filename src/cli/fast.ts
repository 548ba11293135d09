// The lean entry for the commands whose start-up time people feel: get, list, status and exec
// (in scripts), unlock (a target of 0.6 s), and agent (run by every new shell). When an
// invocation is exactly a well-formed use of one of them, it runs the same action the oclif
// command runs, without loading the framework (~130 ms). Anything else (help, an unknown or
// repeated flag, a missing argument) returns null and bin/run.js hands the arguments to oclif,
// so behaviour stays identical. test/unit/fast.test.ts checks these specs against oclif's manifest.

import { renderError } from './render.js';
import { openStore } from './session.js';
import { commandMissing } from '../os/command-path.js';
import { disableCoreDumps } from '../os/libc.js';
import { vaultPaths } from '../store/paths.js';

/** What every exec placeholder starts with (src/exec/placeholders.ts): with one, exec asks for no other secret. */
const PLACEHOLDER_MARK = '{{glassdome';

/** A flag the lean parser knows: its short form and whether it takes a value. */
export interface FlagSpec {
  char?: string;
  value?: boolean;
}

/** The flags and the number of positional arguments of a lean command. */
export interface CommandSpec {
  flags: Record<string, FlagSpec>;
  args: number;
  /** Flags of which at most one may be given. */
  exclusive?: string[];
}

/** Every lean command but exec (whose argv is a command line of its own). */
export const LEAN_SPECS: Record<string, CommandSpec> = {
  get: { flags: { 'no-newline': { char: 'n' }, json: {} }, args: 1 },
  list: { flags: { json: {} }, args: 0 },
  status: { flags: { json: {} }, args: 0 },
  unlock: { flags: { 'password-stdin': {}, lifetime: { value: true }, idle: { value: true } }, args: 0 },
  agent: {
    flags: { sh: { char: 's' }, csh: { char: 'c' }, fish: {}, kill: { char: 'k' }, foreground: { char: 'D' }, lifetime: { value: true }, idle: { value: true }, address: { char: 'a', value: true } },
    args: 0,
    exclusive: ['sh', 'csh', 'fish'],
  },
};

/** A parsed lean invocation: flag name to value (true for booleans), and the positionals. */
export interface Parsed {
  flags: Record<string, string | true>;
  args: string[];
}

/** Parses argv against a spec; null for anything the spec does not cover exactly. */
export function parseSpec(spec: CommandSpec, argv: readonly string[]): Parsed | null {
  const flags: Record<string, string | true> = {};
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]!;
    let name: string | undefined;
    let inline: string | undefined;
    if (token.startsWith('--')) {
      const eq = token.indexOf('=');
      name = token.slice(2, eq === -1 ? undefined : eq);
      inline = eq === -1 ? undefined : token.slice(eq + 1);
    } else if (token.startsWith('-') && token.length === 2) {
      name = Object.keys(spec.flags).find((f) => spec.flags[f]!.char === token[1]);
      if (name === undefined) return null;
    } else if (token.startsWith('-')) {
      return null;
    } else {
      args.push(token);
      continue;
    }
    const flag = spec.flags[name];
    if (!flag || name in flags) return null;
    if (flag.value) {
      const value = inline ?? argv[++i];
      if (value === undefined || (inline === undefined && value.startsWith('-'))) return null;
      flags[name] = value;
    } else {
      if (inline !== undefined) return null;
      flags[name] = true;
    }
  }
  if (args.length !== spec.args) return null;
  if (spec.exclusive && spec.exclusive.filter((f) => f in flags).length > 1) return null;
  return { flags, args };
}

/**
 * The arguments of `exec`: `-s NAME`/`--secret NAME` (repeatable), `--keep-agent`, `--mask`,
 * then the command, after `--` or from the first word that is not a flag. Null when malformed.
 */
export function parseExecArgs(args: readonly string[]): { secrets: string[]; keepAgent: boolean; mask: boolean; argv: string[] } | null {
  const secrets: string[] = [];
  let keepAgent = false;
  let mask = false;
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      i++;
      break;
    }
    if (a === '-s' || a === '--secret') {
      const value = args[++i];
      if (value === undefined) return null;
      secrets.push(value);
    } else if (a.startsWith('--secret=')) {
      secrets.push(a.slice('--secret='.length));
    } else if (a === '--keep-agent') {
      keepAgent = true;
    } else if (a === '--mask') {
      mask = true;
    } else if (a.startsWith('-')) {
      return null;
    } else {
      break;
    }
  }
  const argv = args.slice(i);
  return argv.length > 0 ? { secrets, keepAgent, mask, argv } : null;
}

/** Runs a lean command; returns its exit status, or null when oclif should handle argv. */
export async function runFast(argv: readonly string[]): Promise<number | null> {
  const [command, ...rest] = argv;
  if (command === undefined) return null;
  if (command === 'exec') {
    const parsed = parseExecArgs(rest);
    if (!parsed) return null;
    return guarded(false, async () => {
      // Connected, and the agent sent its hello (and, when exec hands over every secret, the
      // get_many of them all) before exec's own code loads: the agent answers while that code
      // loads, instead of after. No core dump from here on.
      disableCoreDumps();
      // Only when no argument can fail, and the command is there: a refused exec reads nothing.
      const getsAll = parsed.secrets.length === 0 && !parsed.argv.some((a) => a.includes(PLACEHOLDER_MARK)) && !commandMissing(parsed.argv[0]!);
      const paths = vaultPaths();
      const opening = openStore(paths, process.env, getsAll ? [{ op: 'get_many', fields: { vault: paths.home } }] : []);
      return (require('../actions/exec.js') as typeof import('../actions/exec.js')).execAction(parsed, opening);
    });
  }
  const spec = LEAN_SPECS[command];
  const parsed = spec ? parseSpec(spec, rest) : null;
  if (!parsed) return null;
  const { flags, args } = parsed;
  const json = flags.json === true;
  return guarded(json, async () => {
    disableCoreDumps(); // get holds a value, unlock the password and the master key: never in a core file
    const paths = vaultPaths();
    switch (command) {
      case 'get':
        await (require('../actions/get.js') as typeof import('../actions/get.js')).getAction({ name: args[0]!, noNewline: flags['no-newline'] === true, json }, paths);
        return 0;
      case 'list':
        await (require('../actions/list.js') as typeof import('../actions/list.js')).listAction({ json }, paths);
        return 0;
      case 'status':
        return (require('../actions/status.js') as typeof import('../actions/status.js')).statusAction({ json }, paths);
      case 'unlock': {
        const { parseLifetime } = require('./duration.js') as typeof import('./duration.js');
        const lifetimeS = typeof flags.lifetime === 'string' ? parseLifetime(flags.lifetime) : undefined;
        const idleS = typeof flags.idle === 'string' ? parseLifetime(flags.idle) : undefined;
        await (require('../actions/unlock.js') as typeof import('../actions/unlock.js')).unlockAction({ passwordStdin: flags['password-stdin'] === true, lifetimeS, idleS }, paths);
        return 0;
      }
      default: {
        const { parseLifetime } = require('./duration.js') as typeof import('./duration.js');
        const shell = flags.sh ? 'sh' : flags.csh ? 'csh' : flags.fish ? 'fish' : undefined;
        const lifetime = typeof flags.lifetime === 'string' ? flags.lifetime : '8h';
        const idleS = typeof flags.idle === 'string' ? parseLifetime(flags.idle) : undefined;
        const options = { shell, kill: flags.kill === true, foreground: flags.foreground === true, lifetimeS: parseLifetime(lifetime), idleS, socket: typeof flags.address === 'string' ? flags.address : undefined } as const;
        return (require('../actions/agent.js') as typeof import('../actions/agent.js')).agentAction(options, paths);
      }
    }
  });
}

async function guarded(json: boolean, run: () => Promise<number>): Promise<number> {
  try {
    return await run();
  } catch (err) {
    return renderError(err, json);
  }
}
