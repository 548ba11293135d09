import { tokenListAction } from '../../actions/token.js';
import { GlassdomeCommand } from '../../cli/base.js';
import { storeFlag } from '../../cli/store-flag.js';

export default class TokenList extends GlassdomeCommand {
  static override summary = 'List the tokens of glassdome serve (accessor, type, client, expiry; never a token)';
  static override enableJsonFlag = true;
  static override flags = {
    store: storeFlag,
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(TokenList);
    await tokenListAction({ json: flags.json === true, store: flags.store }, this.paths);
  }
}
