import { Args, Flags } from '@oclif/core';
import { copyAction } from '../actions/copy.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Cp extends GlassdomeCommand {
  static override summary = 'Copy a secret to a new name';
  static override examples = ['<%= config.bin %> cp db_pass db_pass.old', '<%= config.bin %> cp --force staging/token prod/token'];
  static override args = {
    from: Args.string({ description: 'the secret', required: true }),
    to: Args.string({ description: 'its new name', required: true }),
  };
  static override flags = { force: Flags.boolean({ description: 'replace an existing secret at the new name' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Cp);
    await copyAction({ from: args.from, to: args.to, force: flags.force, move: false }, this.paths);
  }
}
