import { Flags } from '@oclif/core';
import { execAction } from '../actions/exec.js';
import { GlassdomeCommand } from '../cli/base.js';
import { parseExecArgs } from '../cli/fast.js';
import { openStore } from '../cli/session.js';
import { fail } from '../errors.js';
import { disableCoreDumps } from '../os/libc.js';

/** Flags other tools use to put secrets in a child's environment; exec refuses them by name. */
const ENV_FLAGS = /^(--env|--env-file|--environment|--export|-e)(=|$)/;

export default class Exec extends GlassdomeCommand {
  static override summary = 'Run a command with secrets on inherited file descriptors, never in its env or argv';
  static override description = [
    'fd 3 carries one JSON object {name: value} (GLASSDOME_SECRETS_FD=3): the secrets named with -s; with no -s, every secret, or none ({}) when placeholders name what the command needs. A value that is not UTF-8 appears as {"base64": "..."}.',
    'An argument containing {{glassdome:NAME}} gets /dev/fd/N in its place: a descriptor holding exactly that value, for tools that take a password or key file. {{glassdome-template:PATH}} gets one holding the template file PATH with its {{glassdome:NAME}} references filled in (a my.cnf, .pgpass or .netrc that is never stored whole or written to disk).',
    'Every descriptor is a sealed in-memory file of mode 0400. Read the descriptors, then close them: grandchildren inherit descriptors their parent did not close.',
    'Secrets never go into the environment (any process of yours can read /proc/PID/environ, and every grandchild inherits it): use a *_FILE variable, a password command, or a wrapper that reads fd 3 (docs/RECIPES.md).',
    'glassdome exits with the command’s status, or 128+N when a signal N killed it.',
  ].join('\n\n');
  static override examples = [
    '<%= config.bin %> exec -- python3 scripts/test_platform_connections.py',
    "<%= config.bin %> exec -- env PGPASSFILE={{glassdome-template:pgpass.tmpl}} psql -h db -U app -c 'select 1'",
    '<%= config.bin %> exec -- ssh-keygen -y -f {{glassdome:deploy_key}}',
    '<%= config.bin %> exec --mask -- ./deploy.sh',
  ];
  static override usage = 'exec [-s NAME]... [--keep-agent] [--mask] -- CMD [ARGS]';
  static override strict = false;
  static override flags = {
    secret: Flags.string({ char: 's', description: 'a secret to hand over on fd 3 (repeatable; default: all, or none with placeholders)', multiple: true }),
    'keep-agent': Flags.boolean({ description: 'keep GLASSDOME_AUTH_SOCK and GLASSDOME_AGENT_PID (or GLASSDOME_SERVER and its credentials) in the child’s env' }),
    mask: Flags.boolean({ description: 'replace secret values in the child’s stdout and stderr with <concealed by glassdome>' }),
  };

  async run(): Promise<void> {
    const parsed = parseExecArgs(this.argv); // exec's argv ends in a command line of its own
    this.parsed = true;
    if (!parsed) {
      refuseEnv(this.argv);
      fail('usage', 'exec needs a command', 'glassdome exec [-s NAME]... [--keep-agent] [--mask] -- CMD [ARGS]');
    }
    disableCoreDumps(); // before any source is opened
    this.done(await execAction(parsed, openStore(this.paths)));
  }
}

/** `exec --env` and kin: refused with the reason and the idioms that keep secrets out of env. */
function refuseEnv(argv: readonly string[]): void {
  const end = argv.indexOf('--');
  const flag = (end === -1 ? argv : argv.slice(0, end)).find((a) => ENV_FLAGS.test(a));
  if (flag === undefined) return;
  fail(
    'usage',
    `exec does not put secrets in the environment (${flag.split('=')[0]}): any process of yours can read /proc/PID/environ, every grandchild inherits it, and crash reports record it`,
    "give the tool a file instead: VAR_FILE={{glassdome:NAME}}, a password command (e.g. BORG_PASSCOMMAND='cat {{glassdome:NAME}}'), or a wrapper that reads fd 3 (docs/RECIPES.md)",
  );
}
