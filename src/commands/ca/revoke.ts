import { Args } from '@oclif/core';
import { caRevokeAction } from '../../actions/ca.js';
import { GlassdomeCommand } from '../../cli/base.js';

export default class CaRevoke extends GlassdomeCommand {
  static override summary = 'Revoke a certificate the CA issued';
  static override description = 'Adds it to $GLASSDOME_HOME/ca/crl.pem; a glassdome serve reading that file with --crl refuses it within a second, on new and open connections.';
  static override examples = ['<%= config.bin %> ca revoke 1F3A…', '<%= config.bin %> ca revoke agent-proxmox-01.crt'];
  static override enableJsonFlag = true;
  static override args = {
    target: Args.string({ description: 'serial number (hex) or certificate file', required: true }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CaRevoke);
    await caRevokeAction({ target: args.target, json: flags.json === true }, this.paths);
  }
}
