import { statusAction } from '../actions/status.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Status extends GlassdomeCommand {
  static override summary = 'Show the vault, which source holds the key, and until when';
  static override description = 'Exits 0 when unlocked (mode agent or keyring) and 4 when locked.';
  static override enableJsonFlag = true;

  async run(): Promise<void> {
    await this.parse(Status);
    this.done(await statusAction({ json: this.jsonEnabled() }, this.paths));
  }
}
