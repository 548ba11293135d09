import { listAction } from '../actions/list.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class List extends GlassdomeCommand {
  static override summary = 'List secret names, sorted';
  static override enableJsonFlag = true;

  async run(): Promise<void> {
    await this.parse(List);
    await listAction({ json: this.jsonEnabled() }, this.paths);
  }
}
