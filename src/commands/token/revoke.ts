import { Args } from '@oclif/core';
import { tokenRevokeAction } from '../../actions/token.js';
import { GlassdomeCommand } from '../../cli/base.js';

export default class TokenRevoke extends GlassdomeCommand {
  static override summary = 'Revoke a token by its accessor id';
  static override description = 'The daemon refuses it from its next request on.';
  static override args = {
    accessor: Args.string({ description: 'the accessor id (glassdome token list)', required: true }),
  };

  async run(): Promise<void> {
    const { args } = await this.parse(TokenRevoke);
    await tokenRevokeAction({ accessor: args.accessor }, this.paths);
  }
}
