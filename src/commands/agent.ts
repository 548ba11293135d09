import { Flags } from '@oclif/core';
import { agentAction } from '../actions/agent.js';
import { GlassdomeCommand } from '../cli/base.js';
import { parseLifetime } from '../cli/duration.js';

export default class Agent extends GlassdomeCommand {
  static override summary = 'Start or reuse the agent of this login; print shell code to use it';
  static override description =
    'Put eval "$(glassdome agent)" in your shell profile. Prints code exporting GLASSDOME_AUTH_SOCK and GLASSDOME_AGENT_PID, in the dialect of $SHELL unless -s, -c or --fish says otherwise.';
  static override examples = ['eval "$(<%= config.bin %> agent)"', '<%= config.bin %> agent -k', '<%= config.bin %> agent -D --lifetime 1h -a /tmp/gd.sock', 'eval "$(<%= config.bin %> agent --idle 30m)"'];
  static override flags = {
    sh: Flags.boolean({ char: 's', description: 'Bourne shell code', exclusive: ['csh', 'fish'] }),
    csh: Flags.boolean({ char: 'c', description: 'C shell code', exclusive: ['sh', 'fish'] }),
    fish: Flags.boolean({ description: 'fish code', exclusive: ['sh', 'csh'] }),
    kill: Flags.boolean({ char: 'k', description: 'stop the agent (at -a, $GLASSDOME_AUTH_SOCK or the default socket)' }),
    foreground: Flags.boolean({ char: 'D', description: 'run in the foreground, logging to stderr' }),
    lifetime: Flags.string({ description: 'how long an unlock lasts by default (8h, 30m, ...)', default: '8h' }),
    idle: Flags.string({ description: 'by default, drop the key after this long without a request (15m, 1h, ...)' }),
    address: Flags.string({ char: 'a', description: 'socket path (default $XDG_RUNTIME_DIR/glassdome/agent.sock)' }),
  };

  async run(): Promise<void> {
    const { flags } = await this.parse(Agent);
    const shell = flags.sh ? 'sh' : flags.csh ? 'csh' : flags.fish ? 'fish' : undefined;
    const status = await agentAction(
      { shell, kill: flags.kill, foreground: flags.foreground, lifetimeS: parseLifetime(flags.lifetime), idleS: flags.idle === undefined ? undefined : parseLifetime(flags.idle), socket: flags.address },
      this.paths,
    );
    this.done(status);
  }
}
