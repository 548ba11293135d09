// The ceiling any Node agent can reach: a bare NDJSON server on a Unix socket that writes each
// line back. `npm run bench` loads it exactly as it loads the agent.
'use strict';
const net = require('node:net');
const fs = require('node:fs');

const socketPath = process.argv[2];
try {
  fs.unlinkSync(socketPath);
} catch {}
net
  .createServer((socket) => {
    let pending = '';
    socket.on('data', (chunk) => {
      const text = pending + chunk.toString('utf8');
      const cut = text.lastIndexOf('\n') + 1;
      pending = text.slice(cut);
      if (cut > 0) socket.write(text.slice(0, cut));
    });
    socket.on('error', () => socket.destroy());
  })
  .listen(socketPath, () => process.stdout.write('ready\n'));
