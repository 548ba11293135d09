import { lockAction } from '../actions/lock.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Lock extends GlassdomeCommand {
  static override summary = 'Lock: the agent forgets the key; the keyring item and session cache are removed';

  async run(): Promise<void> {
    await this.parse(Lock);
    await lockAction(this.paths);
  }
}
