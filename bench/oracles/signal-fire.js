// signal-fire 0.5.3, started as its README says, for the bench's side-by-side figures.
// Usage: node signal-fire.js [port]. Port 0 (the default) picks a free one; the address
// is printed in the form the bench reads from every server it starts
// ("listening on http://HOST:PORT").
const { Server } = require('signal-fire')

// 0.5.3 sends to a receiver without checking that its socket is still open, and ws then
// throws 'not opened' out of the message handler, which ends the process: a peer that
// leaves while its partner still signals it takes the server down. The bench's pairs
// do that when a step ends, so the error is logged (with a count) and the server kept
// up, to measure its relaying rather than this bug.
let thrown = 0
process.on('uncaughtException', (error) => {
  thrown += 1
  if (thrown === 1 || thrown % 100 === 0) {
    console.error(`signal-fire 0.5.3 threw (${thrown} so far): ${error.message}`)
  }
})

const server = new Server({ host: '127.0.0.1', port: Number(process.argv[2] || 0) })
server.start().then(() => {
  // ws 1.x keeps the http.Server it listens with as `_server`; the port is known only
  // once it listens, which may already have happened (listen reports on nextTick).
  const http = server._server._server
  const report = () => {
    const { address, port } = http.address()
    console.log(`signal-fire 0.5.3 listening on http://${address}:${port}`)
  }
  if (http.listening) report()
  else http.once('listening', report)
})
