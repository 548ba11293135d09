import { Flags } from '@oclif/core';
import { tokenCreateAction } from '../../actions/token.js';
import { GlassdomeCommand } from '../../cli/base.js';
import { storeFlag } from '../../cli/store-flag.js';

export default class TokenCreate extends GlassdomeCommand {
  static override summary = 'Create a token for glassdome serve (printed once)';
  static override description = 'A bootstrap token (5 min, single use) buys a session token (8 h, renewable) from the daemon; an admin token lasts 1 h. The master password is asked to mint it; only its keyed hash is kept, in $GLASSDOME_HOME/tokens.json (or, with --store, in etcd, where every serve replica sees it).';
  static override examples = ['printf %s "$PW" | <%= config.bin %> token create --client job-123 --password-stdin > token', '<%= config.bin %> token create --client ops --type admin'];
  static override enableJsonFlag = true;
  static override flags = {
    client: Flags.string({ description: 'the client name policy.yaml matches (like a certificate CN)', required: true }),
    ttl: Flags.string({ description: 'lifetime (default 5m for bootstrap, 1h for admin)' }),
    type: Flags.string({ description: 'bootstrap or admin', default: 'bootstrap', options: ['bootstrap', 'admin'] }),
    'password-stdin': Flags.boolean({ description: 'read the master password from stdin' }),
    store: storeFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(TokenCreate);
    await tokenCreateAction({ client: flags.client, ttl: flags.ttl, type: flags.type, passwordStdin: flags['password-stdin'], json: flags.json === true, store: flags.store }, this.paths);
  }
}
