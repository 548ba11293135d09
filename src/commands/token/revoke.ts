import { Args } from '@oclif/core';
import { tokenRevokeAction } from '../../actions/token.js';
import { GlassdomeCommand } from '../../cli/base.js';
import { storeFlag } from '../../cli/store-flag.js';

export default class TokenRevoke extends GlassdomeCommand {
  static override summary = 'Revoke a token by its accessor id';
  static override description = 'The daemon refuses it from its next request on; with --store, every serve replica on that etcd refuses it within a second.';
  static override args = {
    accessor: Args.string({ description: 'the accessor id (glassdome token list)', required: true }),
  };
  static override flags = {
    store: storeFlag,
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(TokenRevoke);
    await tokenRevokeAction({ accessor: args.accessor, store: flags.store }, this.paths);
  }
}
