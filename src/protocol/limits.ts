// Every limit of the agent protocol, as one named constant each (docs/PROTOCOL.md §limits). Pure.

/** The protocol version carried in every message's `v`. */
export const PROTOCOL_VERSION = 1;

/**
 * The longest line, newline excluded. DESIGN.md names 1 MiB, but a 1 MiB value travels as
 * 1.33 MiB of base64 inside a `set` request or a `get` reply, so a line may hold 2 MiB.
 */
export const MAX_LINE_BYTES = 2 * 1024 * 1024;

/** Connections the agent serves at once; the next one gets a `busy` reply and is closed. */
export const MAX_CONNECTIONS = 128;

/**
 * The kernel's queue of connections not yet accepted. Past it, connect() fails with EAGAIN
 * before the agent sees the client; deep enough that a burst of 1,000 is answered (with `busy`
 * beyond MAX_CONNECTIONS) rather than refused by the kernel. The kernel caps it at somaxconn.
 */
export const LISTEN_BACKLOG = 1024;

/** Requests read ahead on one connection before the agent stops reading it until they finish. */
export const MAX_PENDING_PER_CONNECTION = 16;

/** Bytes of replies queued for a slow reader before the agent stops reading its requests. */
export const MAX_QUEUED_REPLY_BYTES = 8 * 1024 * 1024;

/** Malformed frames one connection may send before the agent closes it. */
export const MAX_BAD_FRAMES = 8;

/** A connection idle this long is closed (ms). */
export const IDLE_TIMEOUT_MS = 10 * 60 * 1000;

/** The largest request id (ids are JSON integers 0..2^53-1). */
export const MAX_ID = Number.MAX_SAFE_INTEGER;

/** The most entries one set_many request may carry (an import of a larger store is split by the caller). */
export const MAX_BATCH_ENTRIES = 10_000;

/** The most names one get_many request may carry (a longer list is asked for in parts by the caller). */
export const MAX_GET_MANY_NAMES = 10_000;

/**
 * Bytes of a get_many reply line left for its names, lengths and values: the line limit less room
 * for the rest of the reply (v, id, ok, more, retry_after_ms). A reply stops before the value that
 * would pass it, so a vault of any size comes in lines the client can read.
 */
export const GET_MANY_REPLY_BYTES = MAX_LINE_BYTES - 1024;
