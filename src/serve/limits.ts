// The limits of `glassdome serve`, each a named constant (docs/API.md lists them).

/** Connections served at once; more are closed as they arrive (Node's maxConnections). */
export const MAX_REMOTE_CONNECTIONS = 256;
/** Connections from one address at once (a quarter of the above): more are closed at once, so one host cannot hold them all. */
export const MAX_CONNECTIONS_PER_ADDRESS = 64;
/** A TLS handshake must finish within this (ms). */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** A request's headers must arrive within this (ms): a slowloris client is cut off. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** A whole request must arrive within this (ms). */
export const REQUEST_TIMEOUT_MS = 15_000;
/** An idle keep-alive connection is closed after this (ms). */
export const KEEP_ALIVE_TIMEOUT_MS = 30_000;
/** How often Node checks the two timeouts above (ms). */
export const TIMEOUT_CHECK_INTERVAL_MS = 1000;
/** The largest request head (bytes). */
export const MAX_HEADER_BYTES = 8 * 1024;
/** The largest request body (bytes) of any request but a PUT. */
export const MAX_BODY_BYTES = 4 * 1024;
/** The largest body of `PUT /v1/secrets/{name}` (bytes): the value itself, at most 1 MiB. */
export const MAX_WRITE_BODY_BYTES = 1024 * 1024;
/** Refused requests (no or bad credentials) per remote address: refill per second, burst. */
export const REFUSALS = { perSecond: 2, burst: 20 };
/** Requests served on one connection before it is closed. */
export const MAX_REQUESTS_PER_SOCKET = 100_000;
/** The address `serve` listens on unless --listen says otherwise. */
export const DEFAULT_LISTEN = '127.0.0.1:8443';
