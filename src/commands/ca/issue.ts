import { Flags } from '@oclif/core';
import { caIssueAction } from '../../actions/ca.js';
import { GlassdomeCommand } from '../../cli/base.js';

export default class CaIssue extends GlassdomeCommand {
  static override summary = 'Issue a client (or, with --server, a server) certificate';
  static override description = 'Writes PREFIX.crt and PREFIX.key (0600; PREFIX defaults to the CN in the current directory) and prints the serial. Clients are valid 90 days, servers 1 year, unless --days says otherwise.';
  static override examples = ['<%= config.bin %> ca issue --cn agent-proxmox-01', '<%= config.bin %> ca issue --server --cn securityd.lab --san DNS:securityd.lab,IP:127.0.0.1'];
  static override enableJsonFlag = true;
  static override flags = {
    cn: Flags.string({ description: 'common name: the client’s identity in policy.yaml, or the server’s name', required: true }),
    server: Flags.boolean({ description: 'a server certificate (serverAuth) instead of a client one' }),
    san: Flags.string({ description: 'subject alternative names, comma-separated: DNS:name,IP:address' }),
    days: Flags.integer({ description: 'validity in days (default 90 for clients, 365 for servers)' }),
    out: Flags.string({ description: 'write PREFIX.crt and PREFIX.key (default: the CN)' }),
    force: Flags.boolean({ description: 'overwrite existing PREFIX.crt and PREFIX.key' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(CaIssue);
    await caIssueAction({ cn: flags.cn, server: flags.server, san: flags.san, days: flags.days, out: flags.out, force: flags.force, json: flags.json === true }, this.paths);
  }
}
