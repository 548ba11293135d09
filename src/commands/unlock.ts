import { Flags } from '@oclif/core';
import { unlockAction } from '../actions/unlock.js';
import { GlassdomeCommand } from '../cli/base.js';
import { parseLifetime } from '../cli/duration.js';

export default class Unlock extends GlassdomeCommand {
  static override summary = 'Unlock the vault: the agent holds the key, or else the OS keyring does';
  static override description = 'The password opens the vault here; the master key then goes to the agent at $GLASSDOME_AUTH_SOCK, or, with no agent, into the OS keyring with an 8-hour session.';
  static override examples = ['<%= config.bin %> unlock', '<%= config.bin %> unlock --lifetime 30m', '<%= config.bin %> unlock --lifetime 8h --idle 15m', 'printf %s "$PW" | <%= config.bin %> unlock --password-stdin'];
  static override flags = {
    'password-stdin': Flags.boolean({ description: 'read the password from stdin (one trailing newline stripped)' }),
    lifetime: Flags.string({ description: 'how long the key stays (8h, 30m, 90s, 2d); default: the agent’s, or 8h' }),
    idle: Flags.string({ description: 'also drop the key after this long without a request (15m, 1h); agent only' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Unlock);
    const lifetimeS = flags.lifetime === undefined ? undefined : parseLifetime(flags.lifetime);
    const idleS = flags.idle === undefined ? undefined : parseLifetime(flags.idle);
    await unlockAction({ passwordStdin: flags['password-stdin'], lifetimeS, idleS }, this.paths);
  }
}
