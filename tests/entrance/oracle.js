'use strict';
// The original foglet-signaling-server 1.0.3 (npm), unmodified, on a free loopback port.
// Usage: node oracle.js. Prints `listening on http://127.0.0.1:PORT` once it listens.
//
// The package's own start script (bin/express-signaling-server.js) reads PORT and HOST and
// adds an Express app with a Twilio `/ice` route; the signaling itself is the module
// src/signaling-server.js, `(app, log, host, port, ioServer, ioOptions, httpServer)`, which
// calls `httpServer.listen(port, cb)` on every interface. It is given here an http.Server
// whose listen binds 127.0.0.1 on a port the system picks, and the start script's
// Socket.IO options (`origins: '*:*'`). Its `debug('signaling')` log goes to stderr
// (DEBUG=signaling unless the caller set DEBUG). An uncaught exception in the original ends
// this process, as it would end the original.

if (process.env.DEBUG === undefined) process.env.DEBUG = 'signaling';

const http = require('node:http');
const signalingServer = require('foglet-signaling-server');

const httpServer = http.createServer((req, res) => {
  res.statusCode = 404;
  res.end();
});
const listen = httpServer.listen;
httpServer.listen = function (port, callback) {
  return listen.call(this, 0, '127.0.0.1', callback);
};
httpServer.once('listening', () => {
  console.log(`listening on http://127.0.0.1:${httpServer.address().port}`);
});

signalingServer(null, console.log, '127.0.0.1', 0, undefined, { origins: '*:*' }, httpServer);
