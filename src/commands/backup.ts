import { Flags } from '@oclif/core';
import { backupAction } from '../actions/backup.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Backup extends GlassdomeCommand {
  static override summary = 'Write the sealed vault to one file';
  static override description = 'Both vault files as they are on disk (no plaintext; the master password opens it), with a format version and a checksum, written atomically with mode 0600. See docs/OPERATIONS.md.';
  static override examples = ['<%= config.bin %> backup -o ~/glassdome-$(date +%F).backup'];
  static override flags = {
    output: Flags.string({ char: 'o', description: 'the file to write', required: true }),
    force: Flags.boolean({ description: 'replace the file if it exists' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Backup);
    await backupAction({ output: flags.output, force: flags.force }, this.paths);
  }
}
