// The ceiling of the agent's design in Node, for `npm run bench`: the agent's own connection layer
// (dist/agent/connection.js: framing, parsing, ordered replies, bounds, reply encoding and wiping)
// on a Unix socket, with a dispatch that answers every request with a fixed 7-byte value, no
// policy, audit line, identity check or decryption. The gap between this and the agent is what
// each get's mandatory work costs; the gap between this and the echo server is the protocol's.
// A measuring reference only: never a server anyone should run.
'use strict';
const net = require('node:net');
const fs = require('node:fs');
const path = require('node:path');

const dist = path.join(__dirname, '..', 'dist');
const { Connection } = require(path.join(dist, 'agent/connection.js'));
const { SecretBytes } = require(path.join(dist, 'protocol/codec.js'));

const socketPath = process.argv[2];
try {
  fs.unlinkSync(socketPath);
} catch {}
const peer = { pid: 0, uid: process.getuid(), exe: null };
const value = [104, 117, 110, 116, 101, 114, 50]; // "hunter2", as the bench's secret
net
  .createServer((socket) => {
    new Connection(socket, peer, (request) => Promise.resolve({ v: 1, id: request.id, ok: true, value: new SecretBytes(Uint8Array.from(value)) }));
  })
  .listen(socketPath, () => process.stdout.write('ready\n'));
