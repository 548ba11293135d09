import { Flags } from '@oclif/core';
import { initAction } from '../actions/init.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Init extends GlassdomeCommand {
  static override summary = 'Create a new vault in $GLASSDOME_HOME (default ~/.glassdome)';
  static override description = 'Asks the master password twice on a terminal. The master key is random; the password seals it (Argon2id, opslimit 3, memlimit 64 MiB).';
  static override examples = ['<%= config.bin %> init', 'printf %s "$PW" | <%= config.bin %> init --password-stdin'];
  static override flags = {
    'password-stdin': Flags.boolean({ description: 'read the password from stdin (one trailing newline stripped)' }),
    force: Flags.boolean({ description: 'replace an existing vault (its files and audit log are kept in a replaced-* directory of the home)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Init);
    await initAction({ passwordStdin: flags['password-stdin'], force: flags.force }, this.paths);
  }
}
