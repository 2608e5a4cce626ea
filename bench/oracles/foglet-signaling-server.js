'use strict';
// foglet-signaling-server 1.0.3 (npm), unmodified, for the bench's side-by-side figures of
// the Socket.IO entrance events (joinRoom, new, accept, connected).
// Usage: node foglet-signaling-server.js [port]. Port 0 (the default) picks a free one; the
// address is printed in the form the bench reads from every server it starts
// ("listening on http://HOST:PORT").
//
// The package's start script (bin/express-signaling-server.js) adds an Express app with a
// Twilio `/ice` route and listens on every interface; the signaling itself is the module
// src/signaling-server.js, `(app, log, host, port, ioServer, ioOptions, httpServer)`, which
// calls `httpServer.listen(port, cb)`. It is given here, as tests/entrance/oracle.js does,
// an http.Server whose listen binds 127.0.0.1 on the bench's port, and the start script's
// Socket.IO options (`origins: '*:*'`). Its `debug('signaling')` log, a line per event, is
// off, as the start script leaves it: a DEBUG inherited from the caller's environment
// would have it format and write every forwarded message. An uncaught exception ends the
// process, as it would end the original.

delete process.env.DEBUG;

const http = require('node:http');
const signalingServer = require('foglet-signaling-server');

const port = Number(process.argv[2] || 0);
const httpServer = http.createServer((req, res) => {
  res.statusCode = 404;
  res.end();
});
const listen = httpServer.listen;
httpServer.listen = function (_port, callback) {
  return listen.call(this, port, '127.0.0.1', callback);
};
httpServer.once('listening', () => {
  console.log(`foglet-signaling-server 1.0.3 listening on http://127.0.0.1:${httpServer.address().port}`);
});

signalingServer(null, console.log, '127.0.0.1', port, undefined, { origins: '*:*' }, httpServer);
