'use strict';
// A TCP port free a moment ago on 127.0.0.1, for the suites' servers that need a port
// known in advance (a listener of their own, or a server that comes back at the same
// address).

const net = require('node:net');

function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

module.exports = { freePort };
