// One client connection to the agent: framing, the protocol gates in order (size, parse, version
// and fields, then the agent's lock and peer gates in dispatch), strictly ordered replies, and
// bounds on what one client can make the agent hold: pending requests, queued reply bytes,
// malformed frames, idle time. Nothing a client sends can throw out of here.

import type net from 'node:net';
import { LineSplitter, decodeJson, encodeLine, type Frame } from '../protocol/codec.js';
import { IDLE_TIMEOUT_MS, MAX_BAD_FRAMES, MAX_PENDING_PER_CONNECTION, MAX_QUEUED_REPLY_BYTES } from '../protocol/limits.js';
import { errorReply, isRejection, parseRequest, type Request } from '../protocol/messages.js';
import type { Client } from '../policy/client.js';

/** How long a connection being closed for garbage may take to close its side (ms). */
const CLOSE_GRACE_MS = 2000;

/** Answers one validated request with a complete reply object. */
export type Dispatch = (request: Request, peer: Client) => Promise<Record<string, unknown>>;

/** Serves one accepted socket until it closes. */
export class Connection {
  private readonly splitter = new LineSplitter();
  private readonly queue: Frame[] = [];
  private busy = false;
  private badFrames = 0;
  private closed = false;

  constructor(
    private readonly socket: net.Socket,
    readonly peer: Client,
    private readonly dispatch: Dispatch,
    private readonly onBadFrame: (peer: Client, reason: string) => void = () => undefined,
  ) {
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.resume());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.closed = true;
      this.queue.length = 0;
    });
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return; // closing: input is drained and dropped
    for (const frame of this.splitter.push(chunk)) this.queue.push(frame);
    if (this.queue.length >= MAX_PENDING_PER_CONNECTION) this.socket.pause();
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const frame = this.queue.shift()!;
        const reply = await this.answer(frame);
        if (this.closed) break;
        this.socket.write(encodeLine(reply));
        if (this.badFrames >= MAX_BAD_FRAMES) this.close();
      }
    } finally {
      this.busy = false;
      this.resume();
    }
  }

  /**
   * Ends the connection after its last reply. Input keeps being read and dropped (a client
   * blocked writing into a paused socket would otherwise wait forever), and a peer that does not
   * close its side soon is cut off.
   */
  private close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.socket.end();
    this.socket.resume();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  private resume(): void {
    if (this.closed || this.busy) return;
    if (this.queue.length < MAX_PENDING_PER_CONNECTION && this.socket.writableLength < MAX_QUEUED_REPLY_BYTES) {
      this.socket.resume();
    } else if (this.socket.writableLength >= MAX_QUEUED_REPLY_BYTES) {
      this.socket.pause();
    }
  }

  private async answer(frame: Frame): Promise<Record<string, unknown>> {
    if (frame.kind === 'oversized') return this.bad(null, 'too_large', 'line is over the limit', 'oversized line');
    const doc = decodeJson(frame.bytes);
    frame.bytes.fill(0);
    if (doc === undefined) return this.bad(null, 'bad_request', 'line is not UTF-8 JSON', 'unparsable line');
    const request = parseRequest(doc);
    if (isRejection(request)) {
      // A bad name is a client's honest mistake, not garbage: it does not count toward closing.
      if (request.code === 'invalid_name') return errorReply(request.id, request.code, request.message);
      return this.bad(request.id, request.code, request.message, request.code);
    }
    try {
      return await this.dispatch(request, this.peer);
    } finally {
      if (request.op === 'set') request.value.fill(0);
      if (request.op === 'unlock') request.key?.fill(0);
      if (request.op === 'rotate') {
        request.oldKey.fill(0);
        request.key.fill(0);
      }
    }
  }

  private bad(id: number | null, code: string, message: string, reason: string): Record<string, unknown> {
    this.badFrames++;
    this.onBadFrame(this.peer, reason);
    if (this.badFrames >= MAX_BAD_FRAMES) message += '; closing this connection';
    return errorReply(id, code, message);
  }
}
