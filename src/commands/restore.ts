import { Args, Flags } from '@oclif/core';
import { restoreAction } from '../actions/restore.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Restore extends GlassdomeCommand {
  static override summary = 'Put a backup back as the vault';
  static override description =
    'Checks the backup completely (format, checksums, then the password and the encryption of both files) before replacing anything. Replaces an existing vault only with --force, keeping it aside until the restored one opens (the files of a vault that does not parse are kept for good, in a replaced-* directory it names). A damaged or tampered backup exits 6 and changes nothing.';
  static override examples = ['<%= config.bin %> restore ~/glassdome-2026-11-23.backup', 'printf %s "$PW" | <%= config.bin %> restore --force --password-stdin FILE'];
  static override args = { file: Args.string({ description: 'the backup file', required: true }) };
  static override flags = {
    force: Flags.boolean({ description: 'replace an existing vault' }),
    'password-stdin': Flags.boolean({ description: "read the backup's password from stdin (one trailing newline stripped)" }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Restore);
    await restoreAction({ file: args.file, force: flags.force, passwordStdin: flags['password-stdin'] }, this.paths);
  }
}
