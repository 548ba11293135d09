import { Args } from '@oclif/core';
import { rmAction } from '../actions/rm.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Rm extends GlassdomeCommand {
  static override summary = 'Delete a secret';
  static override args = { name: Args.string({ description: 'secret name', required: true }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Rm);
    await rmAction({ name: args.name }, this.paths);
  }
}
