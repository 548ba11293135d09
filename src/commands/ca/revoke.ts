import { Args } from '@oclif/core';
import { caRevokeAction } from '../../actions/ca.js';
import { GlassdomeCommand } from '../../cli/base.js';
import { storeFlag } from '../../cli/store-flag.js';

export default class CaRevoke extends GlassdomeCommand {
  static override summary = 'Revoke a certificate the CA issued';
  static override description = 'Adds it to $GLASSDOME_HOME/ca/crl.pem; a glassdome serve reading that file with --crl refuses it within a second, on new and open connections. With --store, the serial is also recorded in etcd, and every serve replica on it refuses the certificate within a second.';
  static override examples = ['<%= config.bin %> ca revoke 1F3A…', '<%= config.bin %> ca revoke agent-proxmox-01.crt'];
  static override enableJsonFlag = true;
  static override args = {
    target: Args.string({ description: 'serial number (hex) or certificate file', required: true }),
  };
  static override flags = {
    store: storeFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(CaRevoke);
    await caRevokeAction({ target: args.target, json: flags.json === true, store: flags.store }, this.paths);
  }
}
