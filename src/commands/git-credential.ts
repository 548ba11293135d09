import { Args } from '@oclif/core';
import { GIT_OPERATIONS, gitCredentialAction } from '../actions/git-credential.js';
import { GlassdomeCommand } from '../cli/base.js';

export default class GitCredential extends GlassdomeCommand {
  static override summary = 'A git credential helper backed by the vault (gitcredentials(7))';
  static override description = [
    "Set it up once: git config --global credential.helper '!glassdome git-credential'. git then asks glassdome for the password of a host (get), hands over a password that worked (store), and one that was refused (erase).",
    'A credential lives in the secret git/<protocol>/<host> (git/<protocol>/<host>/<path> with credential.useHttpPath), as username=... and password=... lines; store one by hand with: printf "username=me\\npassword=%s\\n" "$TOKEN" | glassdome set git/https/github.com',
    'get prints nothing when there is no such secret, so git goes on to its next helper or asks.',
  ].join('\n\n');
  static override examples = ["git config --global credential.helper '!glassdome git-credential'", "printf 'protocol=https\\nhost=example.com\\n\\n' | <%= config.bin %> git-credential get"];
  static override args = { operation: Args.string({ description: `what git asks: ${GIT_OPERATIONS.join(', ')} (any other is ignored, as gitcredentials(7) says)`, required: true }) };

  async run(): Promise<void> {
    const { args } = await this.parse(GitCredential);
    await gitCredentialAction(args.operation, this.paths);
  }
}
