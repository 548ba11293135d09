import { Flags } from '@oclif/core';
import { caInitAction } from '../../actions/ca.js';
import { GlassdomeCommand } from '../../cli/base.js';

export default class CaInit extends GlassdomeCommand {
  static override summary = 'Make the certificate authority of glassdome serve';
  static override description = 'A P-256 key (0600) and a self-signed certificate in $GLASSDOME_HOME/ca (0700), valid 10 years unless --days says otherwise, and an empty CRL. Prints the certificate path.';
  static override examples = ['<%= config.bin %> ca init', '<%= config.bin %> ca init --cn lab-ca --days 1825'];
  static override enableJsonFlag = true;
  static override flags = {
    cn: Flags.string({ description: 'common name of the CA (default glassdome-ca)' }),
    days: Flags.integer({ description: 'validity in days (default 3650)' }),
    force: Flags.boolean({ description: 'replace an existing CA (everything it issued stops working)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(CaInit);
    await caInitAction({ cn: flags.cn, days: flags.days, force: flags.force, json: flags.json === true }, this.paths);
  }
}
