import { Flags } from '@oclif/core';
import { caCrlAction } from '../../actions/ca.js';
import { GlassdomeCommand } from '../../cli/base.js';

export default class CaCrl extends GlassdomeCommand {
  static override summary = 'Sign a fresh certificate revocation list';
  static override description = 'Writes $GLASSDOME_HOME/ca/crl.pem (valid 30 days) and prints it, or copies it to --out for other hosts.';
  static override examples = ['<%= config.bin %> ca crl --out /etc/glassdome/crl.pem'];
  static override flags = {
    out: Flags.string({ description: 'also write the CRL to this file' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(CaCrl);
    await caCrlAction({ out: flags.out }, this.paths);
  }
}
