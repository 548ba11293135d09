// How the network API answers: JSON bodies, the protocol's error codes with an HTTP status each
// (docs/API.md), `Retry-After` on rate limits, never a cache. Pure helpers over node:http objects.

import type http from 'node:http';
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

/** Sends an error as `{"error":{"code","message","hint"}}`. */
export function sendError(res: http.ServerResponse, err: GlassdomeError, extra: { status?: number; retryAfter?: number; close?: boolean } = {}): void {
  const headers: Record<string, string> = {};
  if (extra.retryAfter !== undefined) headers['retry-after'] = String(Math.max(1, extra.retryAfter));
  if (extra.close) headers.connection = 'close';
  if (extra.status === 401) headers['www-authenticate'] = 'Bearer realm="glassdome"';
  sendJson(res, extra.status ?? httpStatus(err.code), { error: { code: err.code, message: err.message, ...(err.hint ? { hint: err.hint } : {}) } }, headers);
}
