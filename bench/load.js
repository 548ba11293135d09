// Load for `npm run bench`: C connections to a Unix socket, each with one request in flight at a
// time, for D milliseconds. Prints {requests, seconds, per_second, p50_ms, p99_ms, errors} as JSON.
'use strict';
const net = require('node:net');

const [socketPath, line, connections, durationMs] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5])];
const latencies = [];
let errors = 0;
let stop = false;

function client() {
  return new Promise((resolve) => {
    const socket = net.connect(socketPath);
    let buffer = '';
    let sent = 0;
    const send = () => {
      sent = performance.now();
      socket.write(line + '\n');
    };
    socket.on('connect', send);
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      let nl;
      while ((nl = buffer.indexOf('\n')) !== -1) {
        const reply = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        latencies.push(performance.now() - sent);
        if (reply.includes('"ok":false')) errors++;
        if (stop) {
          socket.end();
          return;
        }
        send();
      }
    });
    socket.on('close', resolve);
    socket.on('error', () => {
      errors++;
      resolve();
    });
  });
}

const started = performance.now();
const all = Array.from({ length: connections }, client);
setTimeout(() => (stop = true), durationMs);
Promise.all(all).then(() => {
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? null;
  process.stdout.write(JSON.stringify({ requests: latencies.length, seconds: +seconds.toFixed(3), per_second: Math.round(latencies.length / seconds), p50_ms: +at(0.5).toFixed(3), p99_ms: +at(0.99).toFixed(3), errors }));
});
