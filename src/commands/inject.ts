import { Flags } from '@oclif/core';
import { injectAction } from '../actions/inject.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class Inject extends GlassdomeCommand {
  static override summary = 'Render a template’s {{glassdome:NAME}} references with secret values';
  static override description = [
    'Reads the template from -i TEMPLATE or stdin and writes it with each {{glassdome:NAME}} replaced by that secret’s bytes: to stdout, or to -o FILE, written with mode 0600 through a temporary file and a rename.',
    'Nothing is written when a secret is missing (exit 3). To hand a rendered file to one command without writing it to disk, use exec’s {{glassdome-template:PATH}} instead.',
  ].join('\n\n');
  static override examples = [
    '<%= config.bin %> inject -i my.cnf.tmpl -o ~/.my.cnf',
    "printf 'machine example.com login me password {{glassdome:web_pw}}\\n' | <%= config.bin %> inject -o ~/.netrc",
  ];
  static override flags = {
    input: Flags.string({ char: 'i', description: 'the template file (default: stdin)' }),
    output: Flags.string({ char: 'o', description: 'write here, mode 0600, atomically (default: stdout)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Inject);
    await injectAction({ input: flags.input, output: flags.output }, this.paths);
  }
}
