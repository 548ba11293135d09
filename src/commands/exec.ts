import { Flags } from '@oclif/core';
import { execAction } from '../actions/exec.js';
import { GlassdomeCommand } from '../cli/base.js';
import { parseExecArgs } from '../cli/fast.js';
import { fail } from '../errors.js';

export default class Exec extends GlassdomeCommand {
  static override summary = 'Run a command with secrets on inherited file descriptors, never in its env or argv';
  static override description = [
    'fd 3 carries one JSON object {name: value} of the chosen secrets (all of them when no -s is given); GLASSDOME_SECRETS_FD=3 says so.',
    'An argument containing {{glassdome:NAME}} gets /dev/fd/N in its place: a descriptor holding just that value, for tools that take a password file.',
    'Read the descriptors, then close them: grandchildren inherit descriptors their parent did not close.',
    'glassdome exits with the command’s status, or 128+N when a signal N killed it.',
  ].join('\n\n');
  static override examples = [
    '<%= config.bin %> exec -- python3 scripts/test_platform_connections.py',
    '<%= config.bin %> exec -s db_pass -- psql --set=pwfile={{glassdome:db_pass}}',
    '<%= config.bin %> exec --mask -- ./deploy.sh',
  ];
  static override usage = 'exec [-s NAME]... [--keep-agent] [--mask] -- CMD [ARGS]';
  static override strict = false;
  static override flags = {
    secret: Flags.string({ char: 's', description: 'a secret to hand over (repeatable; default: all)', multiple: true }),
    'keep-agent': Flags.boolean({ description: 'keep GLASSDOME_AUTH_SOCK and GLASSDOME_AGENT_PID in the child’s env' }),
    mask: Flags.boolean({ description: 'replace secret values in the child’s stdout and stderr with <concealed by glassdome>' }),
  };

  async run(): Promise<void> {
    const parsed = parseExecArgs(this.argv); // exec's argv ends in a command line of its own
    this.parsed = true;
    if (!parsed) fail('usage', 'exec needs a command', 'glassdome exec [-s NAME]... [--keep-agent] [--mask] -- CMD [ARGS]');
    this.done(await execAction(parsed, this.paths));
  }
}
