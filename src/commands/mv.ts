import { Args, Flags } from '@oclif/core';
import { copyAction } from '../actions/copy.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Mv extends GlassdomeCommand {
  static override summary = 'Rename a secret';
  static override examples = ['<%= config.bin %> mv db_pass db_pass.old', '<%= config.bin %> mv --force staging/token prod/token'];
  static override args = {
    from: Args.string({ description: 'the secret', required: true }),
    to: Args.string({ description: 'its new name', required: true }),
  };
  static override flags = { force: Flags.boolean({ description: 'replace an existing secret at the new name' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Mv);
    await copyAction({ from: args.from, to: args.to, force: flags.force, move: true }, this.paths);
  }
}
