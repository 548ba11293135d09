// A raw client for the agent's socket: send exact bytes, read reply lines, see when the agent
// closes. For tests of the protocol's gates (the CLI's own client never sends garbage).

import net from 'node:net';

/** A raw connection to the agent. */
export class Wire {
  private buffer = '';
  private waiters: Array<() => void> = [];
  closed = false;

  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (c: Buffer) => {
      this.buffer += c.toString('utf8');
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  /** Connects to a socket path. */
  static connect(path: string): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const s = net.connect(path);
      s.once('connect', () => resolve(new Wire(s)));
      s.once('error', reject);
    });
  }

  /** Sends raw bytes. */
  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** Sends one request object as a line. */
  request(message: object): void {
    this.send(`${JSON.stringify(message)}\n`);
  }

  /** The next reply line, parsed; throws if the connection closes first. */
  async reply(timeoutMs = 10_000): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const nl = this.buffer.indexOf('\n');
      if (nl !== -1) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        return JSON.parse(line) as Record<string, unknown>;
      }
      if (this.closed) throw new Error('connection closed before a reply');
      if (Date.now() > deadline) throw new Error('no reply in time');
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  /** Resolves when the agent has closed the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error('connection still open');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
