// The ceiling of any Node HTTPS daemon: a bare server with glassdome serve's TLS settings (TLS
// 1.3, client certificates requested and verified) that answers every request with the same
// small JSON body. `npm run bench` loads it exactly as it loads glassdome serve.
'use strict';
const fs = require('node:fs');
const https = require('node:https');

const [certFile, keyFile, caFile] = process.argv.slice(2);
const body = JSON.stringify({ name: 'bench_secret', value: Buffer.from('hunter2').toString('base64') });
https
  .createServer({ cert: fs.readFileSync(certFile), key: fs.readFileSync(keyFile), ca: fs.readFileSync(caFile), requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.3', keepAliveTimeout: 30_000 }, (req, res) => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  })
  .listen(0, '127.0.0.1', function () {
    process.stdout.write(`${this.address().port}\n`);
  });
