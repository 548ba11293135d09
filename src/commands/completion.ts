import { Args } from '@oclif/core';
import { GlassdomeCommand } from '../cli/base.js';
import { completionScript, COMPLETION_SHELLS, type CompletionCommand } from '../cli/completion.js';

export default class Completion extends GlassdomeCommand {
  static override summary = 'Print the shell completion script for bash, zsh or fish';
  static override description = 'Commands, flags and (through glassdome list, when the vault is unlocked) secret names. Load it from your shell profile.';
  static override examples = [
    'eval "$(<%= config.bin %> completion bash)"        # in ~/.bashrc',
    'eval "$(<%= config.bin %> completion zsh)"         # in ~/.zshrc',
    '<%= config.bin %> completion fish > ~/.config/fish/completions/glassdome.fish',
  ];
  static override args = { shell: Args.string({ description: 'the shell', required: true, options: [...COMPLETION_SHELLS] }) };

  async run(): Promise<void> {
    const { args } = await this.parse(Completion);
    const commands: CompletionCommand[] = this.config.commands
      .filter((c) => !c.hidden)
      .map((c) => ({
        words: c.id.replaceAll(':', ' '),
        summary: c.summary ?? '',
        flags: Object.values(c.flags)
          .filter((f) => f.name !== 'help')
          .map((f) => ({ name: f.name, char: f.char, takesValue: f.type === 'option', summary: f.summary ?? f.description ?? '' })),
        takesName: Object.keys(c.args)[0] === 'name',
      }))
      .sort((a, b) => a.words.localeCompare(b.words));
    process.stdout.write(completionScript(args.shell as (typeof COMPLETION_SHELLS)[number], commands, this.config.bin));
  }
}
