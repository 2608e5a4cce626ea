'use strict';
// The original signal-fire 0.5.3 server (npm), unmodified, on a free loopback port.
// Usage: node oracles/signal-fire.js '{}'. Prints `listening on http://127.0.0.1:PORT`.
// An uncaught exception in the original ends this process, as it would end the original.

const { Server } = require('signal-fire');

const server = new Server({ host: '127.0.0.1', port: 0 });
server.start().then(() => {
  const http = server._server._server; // ws 1.x keeps the http.Server it made here
  const announce = () => console.log(`listening on http://127.0.0.1:${http.address().port}`);
  if (http.listening) announce();
  else http.once('listening', announce);
});
