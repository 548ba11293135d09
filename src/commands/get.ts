import { Args, Flags } from '@oclif/core';
import { getAction } from '../actions/get.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Get extends GlassdomeCommand {
  static override summary = 'Print the value of a secret';
  static override description = 'The value goes to stdout followed by a newline (none with -n). Asks the agent, or the keyring session when no agent runs.';
  static override examples = [
    '<%= config.bin %> get proxmox_password',
    '<%= config.bin %> get -n registry_pw | skopeo login --password-stdin -u me registry.example.com   # a pipe, never argv',
    "BORG_PASSCOMMAND='<%= config.bin %> get -n borg_pw' borg list /backup/repo                         # as a password command",
  ];
  static override enableJsonFlag = true;
  static override args = { name: Args.string({ description: 'secret name', required: true }) };
  static override flags = { 'no-newline': Flags.boolean({ char: 'n', description: 'no newline after the value' }) };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Get);
    await getAction({ name: args.name, noNewline: flags['no-newline'], json: this.jsonEnabled() }, this.paths);
  }
}
