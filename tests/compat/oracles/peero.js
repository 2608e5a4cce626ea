'use strict';
// NOT an original: Peero's server is gone from every registry. This is a stand-in written
// from COMPAT.md section 4 alone, only to show that the Peero tests can pass and fail
// (COMPAT_TARGET=oracle). Usage: node oracles/peero.js '{}'. Any path speaks Peero.

const crypto = require('node:crypto');
const http = require('node:http');
const { WebSocketServer } = require('ws');

const httpServer = http.createServer((req, res) => {
  res.statusCode = 404;
  res.end();
});
const wss = new WebSocketServer({ server: httpServer });
const peers = new Map(); // id -> socket, every connected peer
const registered = new Set();

function send(id, msg) {
  const ws = peers.get(id);
  if (!ws) return false;
  ws.send(JSON.stringify(msg));
  return true;
}

wss.on('connection', (ws) => {
  const id = crypto.randomUUID();
  peers.set(id, ws);
  ws.send(JSON.stringify({ type: 'id', peerId: id }));
  ws.on('message', (data, isBinary) => {
    let msg;
    try {
      msg = isBinary ? undefined : JSON.parse(String(data));
    } catch {
      msg = undefined;
    }
    if (!msg || typeof msg !== 'object' || Array.isArray(msg)) return send(id, { type: 'error', code: 'bad_request' });
    switch (msg.type) {
      case 'register':
        if (registered.has(id)) return undefined;
        send(id, { type: 'peers', peers: [...registered] });
        for (const other of registered) send(other, { type: 'announce', peerId: id });
        registered.add(id);
        return undefined;
      case 'offer':
        for (const other of registered) if (other !== id) send(other, { type: 'offer', peerId: id, signal: msg.signal });
        return undefined;
      case 'answer':
      case 'signal':
        if (typeof msg.peerId !== 'string') return send(id, { type: 'error', code: 'bad_request' });
        if (!send(msg.peerId, { type: msg.type, peerId: id, signal: msg.signal })) {
          send(id, { type: 'error', code: 'unknown_peer', peerId: msg.peerId });
        }
        return undefined;
      default:
        return send(id, { type: 'error', code: 'bad_request' });
    }
  });
  ws.on('close', () => {
    peers.delete(id);
    if (registered.delete(id)) for (const other of registered) send(other, { type: 'remove', peerId: id });
  });
});

httpServer.listen(0, '127.0.0.1', () => {
  console.log(`listening on http://127.0.0.1:${httpServer.address().port}`);
});
