import { Args } from '@oclif/core';
import { setAction } from '../actions/set.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Set extends GlassdomeCommand {
  static override summary = 'Store a secret';
  static override description = 'The value comes from stdin when it is not a terminal (one trailing newline is stripped), else from a hidden prompt asked twice. Values are bytes, at most 1 MiB.';
  static override examples = ["printf %s 'hunter2' | <%= config.bin %> set proxmox_password", '<%= config.bin %> set api_token   # prompts'];
  static override args = { name: Args.string({ description: 'secret name', required: true }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Set);
    await setAction({ name: args.name }, this.paths);
  }
}
