// signal-fire 0.5.3, started as its README says, for the bench's side-by-side figures.
// Usage: node signal-fire.js [port]. Port 0 (the default) picks a free one; the address
// is printed in the form the bench reads from every server it starts
// ("listening on http://HOST:PORT").
const { Server } = require('signal-fire')

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
