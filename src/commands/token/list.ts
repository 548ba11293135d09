import { tokenListAction } from '../../actions/token.js';
import { GlassdomeCommand } from '../../cli/base.js';

export default class TokenList extends GlassdomeCommand {
  static override summary = 'List the tokens of glassdome serve (accessor, type, client, expiry; never a token)';
  static override enableJsonFlag = true;

  async run(): Promise<void> {
    const { flags } = await this.parse(TokenList);
    await tokenListAction({ json: flags.json === true }, this.paths);
  }
}
