'use strict';
// The original webrtc-bootstrap 4.4.1 server (npm package's src/server.js), unmodified, on a
// free loopback port. Usage: node oracles/webrtc-bootstrap.js '{"secret":"...","seed":1,
// "timeoutMs":30000}'. Prints `listening on http://127.0.0.1:PORT`.

const http = require('node:http');
const { Server } = require('webrtc-bootstrap');

const args = JSON.parse(process.argv[2] || '{}');
const httpServer = http.createServer((req, res) => {
  res.statusCode = 404;
  res.end();
});
httpServer.listen(0, '127.0.0.1', () => {
  // eslint-disable-next-line no-new
  new Server(args.secret, { httpServer, seed: args.seed || null, timeout: args.timeoutMs || 30_000 });
  console.log(`listening on http://127.0.0.1:${httpServer.address().port}`);
});
