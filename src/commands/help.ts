import { Args, loadHelpClass } from '@oclif/core';
import { GlassdomeCommand } from '../cli/base.js';
import { suggestCommand } from '../cli/suggest.js';
import { fail } from '../errors.js';

export default class Help extends GlassdomeCommand {
  static override summary = 'Show the commands, or the help of one command';
  static override examples = ['<%= config.bin %> help', '<%= config.bin %> help exec', '<%= config.bin %> help policy check'];
  static override strict = false;
  static override args = { command: Args.string({ description: 'the command to explain', required: false }) };

  async run(): Promise<void> {
    const { argv } = await this.parse(Help);
    const words = argv as string[];
    const id = words.join(':');
    if (id && !this.config.findCommand(id) && !this.config.findTopic(id)) {
      const guess = suggestCommand(words.join(' '), this.config.commandIDs);
      fail('usage', `${JSON.stringify(words.join(' '))} is not a glassdome command`, guess ? `did you mean: glassdome help ${guess}` : 'see the commands: glassdome help');
    }
    const HelpClass = await loadHelpClass(this.config);
    await new HelpClass(this.config, this.config.pjson.oclif.helpOptions ?? {}).showHelp(words);
  }
}
