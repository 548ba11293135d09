import { Args, Flags } from '@oclif/core';
import { DEFAULT_CHARS, DEFAULT_GENERATE_LENGTH, generateAction } from '../actions/generate.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Generate extends GlassdomeCommand {
  static override summary = 'Store a new random value from the CSPRNG, without showing it';
  static override description = 'Each character is drawn uniformly from --chars (ranges like a-z allowed). Nothing is printed unless --print. An existing secret is kept unless --force.';
  static override examples = ['<%= config.bin %> generate db_pass', '<%= config.bin %> generate api_key --length 48 --chars a-f0-9', '<%= config.bin %> generate wifi --length 20 --print'];
  static override args = { name: Args.string({ description: 'secret name', required: true }) };
  static override flags = {
    length: Flags.integer({ description: 'characters', default: DEFAULT_GENERATE_LENGTH, min: 1 }),
    chars: Flags.string({ description: 'the characters to draw from', default: DEFAULT_CHARS }),
    print: Flags.boolean({ description: 'also print the value on stdout' }),
    force: Flags.boolean({ description: 'replace an existing secret' }),
  };

  async run(): Promise<void> {
    const { args, flags } = await this.parse(Generate);
    await generateAction({ name: args.name, length: flags.length, chars: flags.chars, print: flags.print, force: flags.force }, this.paths);
  }
}
