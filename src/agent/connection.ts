// One client connection to the agent: framing, the protocol gates in order (size, parse, version
// and fields, then the agent's lock and peer gates in dispatch), strictly ordered replies, and
// bounds on what one client can make the agent hold: pending requests, queued reply bytes,
// unsplit input, malformed frames, idle time. Nothing a client sends can throw out of here.
//
// Memory bounds (docs/PROTOCOL.md §limits): input is split into frames only while fewer than
// MAX_PENDING_PER_CONNECTION wait; the rest stays as unsplit bytes (at most one chunk from the
// kernel plus the stream's buffer) with the socket paused. A request is only answered while less
// than MAX_QUEUED_REPLY_BYTES of replies wait for the client to read them; beyond, the connection
// waits for 'drain'. So one connection holds at most 16 requests, 8 MiB of replies and one reply
// being built, however much it pipelines.

import type net from 'node:net';
import { LineSplitter, decodeRequestLine, encodeReply, type EncodedLine, type Frame } from '../protocol/codec.js';
import { IDLE_TIMEOUT_MS, MAX_BAD_FRAMES, MAX_PENDING_PER_CONNECTION, MAX_QUEUED_REPLY_BYTES } from '../protocol/limits.js';
import { errorReply, isRejection, parseRequest, wipeSecretFields, type Request } from '../protocol/messages.js';
import type { Client } from '../policy/client.js';

/** How long a connection being closed for garbage may take to close its side (ms). */
const CLOSE_GRACE_MS = 2000;

/** Answers one validated request with a complete reply object. */
export type Dispatch = (request: Request, peer: Client) => Promise<Record<string, unknown>>;

/** Serves one accepted socket until it closes. */
export class Connection {
  private readonly splitter = new LineSplitter();
  private readonly queue: Frame[] = [];
  /** Received bytes not yet split into frames (the queue was full). */
  private readonly unsplit: Buffer[] = [];
  private busy = false;
  private badFrames = 0;
  private closed = false;
  private drained: (() => void) | undefined;

  constructor(
    private readonly socket: net.Socket,
    readonly peer: Client,
    private readonly dispatch: Dispatch,
    private readonly onBadFrame: (peer: Client, reason: string) => void = () => undefined,
  ) {
    socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());
    socket.on('data', (chunk: Buffer) => this.receive(chunk));
    socket.on('drain', () => this.wake());
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      this.closed = true;
      this.queue.length = 0;
      this.unsplit.length = 0;
      this.wake();
    });
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return; // closing: input is drained and dropped
    this.unsplit.push(chunk);
    this.split();
    this.pump();
  }

  /**
   * Splits held input into frames, one line at a time, while fewer than the pending bound wait.
   * Whatever is left stays unsplit and the socket is paused until the queue has room again.
   */
  private split(): void {
    while (this.unsplit.length > 0 && this.queue.length < MAX_PENDING_PER_CONNECTION) {
      const chunk = this.unsplit[0]!;
      const nl = chunk.indexOf(10);
      if (nl === -1 || nl === chunk.length - 1) {
        this.unsplit.shift();
        for (const frame of this.splitter.push(chunk)) this.queue.push(frame);
      } else {
        this.unsplit[0] = chunk.subarray(nl + 1);
        for (const frame of this.splitter.push(chunk.subarray(0, nl + 1))) this.queue.push(frame);
      }
    }
    this.flow();
  }

  /**
   * Answers queued frames in order. A reply ready at once is written at once; one that waits (an
   * audit line, a vault write) resumes the loop when it comes. No async layer per request: under
   * load the promise machinery cost more than the answer itself.
   */
  private pump(): void {
    if (this.busy) return;
    this.busy = true;
    while (!this.closed && this.queue.length > 0) {
      if (this.socket.writableLength >= MAX_QUEUED_REPLY_BYTES) {
        this.drained = () => this.resume();
        return;
      }
      const frame = this.queue.shift()!;
      this.split();
      const reply = this.answer(frame);
      if (reply instanceof Promise) {
        reply.then(
          (r) => {
            this.send(r);
            this.resume();
          },
          () => {
            this.close(); // answer never rejects; if it did, the connection would not stay stuck
            this.resume();
          },
        );
        return;
      }
      this.send(reply);
    }
    this.busy = false;
    this.flow();
  }

  private resume(): void {
    this.busy = false;
    this.pump();
  }

  private send(reply: EncodedLine): void {
    if (this.closed) {
      reply.wipe();
      return;
    }
    this.socket.write(reply.bytes, () => reply.wipe());
    if (this.badFrames >= MAX_BAD_FRAMES) this.close();
  }

  /**
   * Ends the connection after its last reply. Input keeps being read and dropped (a client
   * blocked writing into a paused socket would otherwise wait forever), and a peer that does not
   * close its side soon is cut off.
   */
  private close(): void {
    this.closed = true;
    this.queue.length = 0;
    this.unsplit.length = 0;
    this.socket.end();
    this.socket.resume();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  /** Reads on only while every bound has room: no unsplit input, queue and replies under their bounds. */
  private flow(): void {
    if (this.closed) return;
    const room = this.unsplit.length === 0 && this.queue.length < MAX_PENDING_PER_CONNECTION && this.socket.writableLength < MAX_QUEUED_REPLY_BYTES;
    if (room) this.socket.resume();
    else this.socket.pause();
  }

  private wake(): void {
    const drained = this.drained;
    this.drained = undefined;
    drained?.();
    this.flow();
  }

  /** The encoded reply to one frame: at once, or once the dispatch settles (it never rejects). */
  private answer(frame: Frame): EncodedLine | Promise<EncodedLine> {
    if (frame.kind === 'oversized') return encodeReply(this.bad(null, 'too_large', 'line is over the limit', 'oversized line'));
    const doc = decodeRequestLine(frame.bytes);
    frame.bytes.fill(0);
    if (doc === undefined) return encodeReply(this.bad(null, 'bad_request', 'line is not UTF-8 JSON', 'unparsable line'));
    const request = parseRequest(doc);
    wipeSecretFields(doc);
    if (isRejection(request)) {
      // A bad name is a client's honest mistake, not garbage: it does not count toward closing.
      if (request.code === 'invalid_name') return encodeReply(errorReply(request.id, request.code, request.message));
      return encodeReply(this.bad(request.id, request.code, request.message, request.code));
    }
    let pending: Promise<Record<string, unknown>>;
    try {
      pending = this.dispatch(request, this.peer);
    } catch (err) {
      pending = Promise.reject(err);
    }
    return pending.then(
      (reply) => {
        wipeRequest(request);
        return encodeReply(reply);
      },
      (err: unknown) => {
        wipeRequest(request);
        throw err;
      },
    );
  }

  private bad(id: number | null, code: string, message: string, reason: string): Record<string, unknown> {
    this.badFrames++;
    this.onBadFrame(this.peer, reason);
    if (this.badFrames >= MAX_BAD_FRAMES) message += '; closing this connection';
    return errorReply(id, code, message);
  }
}

/** Wipes the secret bytes a request carried (values, keys) once it is answered. */
function wipeRequest(request: Request): void {
  if (request.op === 'set') request.value.fill(0);
  if (request.op === 'unlock') request.key?.fill(0);
  if (request.op === 'rotate') {
    request.oldKey.fill(0);
    request.key.fill(0);
  }
}
