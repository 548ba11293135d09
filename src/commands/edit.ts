import { Args } from '@oclif/core';
import { editAction } from '../actions/edit.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Edit extends GlassdomeCommand {
  static override summary = 'Edit a secret in $VISUAL or $EDITOR (a new one starts empty)';
  static override description = 'The value is written to a file in a fresh 0700 directory on a tmpfs ($XDG_RUNTIME_DIR, else /dev/shm), never on disk, and overwritten and removed when the editor exits. An unchanged file stores nothing.';
  static override examples = ['<%= config.bin %> edit db_config', 'EDITOR=nano <%= config.bin %> edit notes/wifi'];
  static override args = { name: Args.string({ description: 'secret name', required: true }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Edit);
    await editAction({ name: args.name }, this.paths);
  }
}
