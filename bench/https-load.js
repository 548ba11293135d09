// mTLS load for `npm run bench`: C keep-alive HTTPS connections (client certificate), each with
// one GET in flight at a time, for D milliseconds. Prints {requests, seconds, per_second, p50_ms,
// p99_ms, errors} as JSON, like load.js.
'use strict';
const fs = require('node:fs');
const https = require('node:https');

const [url, caFile, certFile, keyFile, connections, durationMs] = [process.argv[2], process.argv[3], process.argv[4], process.argv[5], Number(process.argv[6]), Number(process.argv[7])];
const agent = new https.Agent({ keepAlive: true, maxSockets: connections, ca: fs.readFileSync(caFile), cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile) });
const latencies = [];
let errors = 0;
let stop = false;

function once() {
  return new Promise((resolve) => {
    const sent = performance.now();
    const req = https.get(url, { agent }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => {
        latencies.push(performance.now() - sent);
        if (res.statusCode !== 200) errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
  });
}

async function client() {
  while (!stop) await once();
}

const started = performance.now();
const all = Array.from({ length: connections }, client);
setTimeout(() => (stop = true), durationMs);
Promise.all(all).then(() => {
  agent.destroy();
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  process.stdout.write(JSON.stringify({ requests: latencies.length, seconds: +seconds.toFixed(3), per_second: Math.round(latencies.length / seconds), p50_ms: +at(0.5).toFixed(3), p99_ms: +at(0.99).toFixed(3), errors }));
});
