// How the network API answers: JSON bodies, the protocol's error codes with an HTTP status each
// (docs/API.md), `Retry-After` on rate limits, never a cache. Pure helpers over node:http objects.

import { STATUS_CODES } from 'node:http';
import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { GlassdomeError, type ErrorCode } from '../errors.js';

const STATUS: Partial<Record<ErrorCode, number>> = {
  usage: 400,
  invalid_name: 400,
  bad_request: 400,
  denied: 403,
  not_found: 404,
  unknown_op: 404,
  too_large: 413,
  rate_limited: 429,
  expired: 401,
  locked: 503,
  busy: 503,
  audit_failed: 503,
  unavailable: 503,
};

/** The HTTP status of an error code. */
export function httpStatus(code: ErrorCode): number {
  return STATUS[code] ?? 500;
}

/** Sends a JSON body. */
export function sendJson(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** How an error is answered: status, headers and the `{"error":{"code","message","hint"}}` body. */
function errorAnswer(err: GlassdomeError, extra: ErrorExtra): { status: number; headers: Record<string, string>; body: unknown } {
  const headers: Record<string, string> = {};
  if (extra.retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, extra.retryAfter));
  if (extra.close) headers.connection = 'close';
  if (extra.status === 401) headers['www-authenticate'] = 'Bearer realm="glassdome"';
  return { status: extra.status ?? httpStatus(err.code), headers, body: { error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } } };
}

/** What an error answer may add: its status (else the code's), a Retry-After, closing the connection. */
type ErrorExtra = { status?: number; retryAfter?: number; close?: boolean };

/** Sends an error as `{"error":{"code","message","hint"}}`. */
export function sendError(res: http.ServerResponse, err: GlassdomeError, extra: ErrorExtra = {}): void {
  const { status, headers, body } = errorAnswer(err, extra);
  sendJson(res, status, body, headers);
}

/** Writes an error as a whole HTTP/1.1 response onto a connection whose HTTP stream failed (no ServerResponse), then ends it. */
export function sendErrorOnSocket(socket: Duplex, err: GlassdomeError, extra: ErrorExtra = {}): void {
  const { status, headers, body } = errorAnswer(err, { ...extra, close: true });
  const text = JSON.stringify(body);
  const head = { 'content-type': 'application/json', 'cache-control': 'no-store', 'content-length': String(Buffer.byteLength(text)), ...headers };
  socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}\r\n${Object.entries(head).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n${text}`);
}
