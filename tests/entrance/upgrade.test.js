'use strict';
// The WebSocket upgrade that every default socket.io-client 2 (foglet-core's signaling
// included) makes after its first polls (COMPAT.md 1: `2probe`, `3probe`, `5`, a noop `6`
// on the pending poll). The client answers a poll at once with the next one, so the noop
// can end one poll and find another pending by the time `3probe` arrives: the client then
// pauses polling, which waits for that poll to end, and holds every packet it has to send
// (its events, its pings) until the upgrade is done. The original's engine.io 3 sends a
// noop to a pending poll every 100 ms until `5` comes; the test plays that order with raw
// HTTP and WebSocket requests and requires the second poll to be answered too.

const { test, before, after } = require('node:test');
const assert = require('node:assert/strict');
const http = require('node:http');
const WebSocket = require('ws');
const { startTarget } = require('./target');
const { unique } = require('./peer');

const BOUND = 5_000; // failure bound for an answer due at once (engine.io: within 100 ms)

let server;

before(async () => {
  server = await startTarget();
});

after(async () => {
  if (server) await server.stop();
});

/** GET or POST on the polling transport; resolves to the body. */
function poll(query, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${server.url}/socket.io/?EIO=3&transport=polling&${query}`,
      { method: body === undefined ? 'GET' : 'POST', headers: body === undefined ? {} : { 'content-type': 'text/plain;charset=UTF-8' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk) => (text += chunk));
        res.on('end', () => (res.statusCode === 200 ? resolve(text) : reject(new Error(`${res.statusCode} ${text}`))));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Engine.IO 3 text payload `<length>:<packet>…` to its packets. */
function packets(payload) {
  const out = [];
  let i = 0;
  while (i < payload.length) {
    const colon = payload.indexOf(':', i);
    const length = Number(payload.slice(i, colon));
    out.push(payload.slice(colon + 1, colon + 1 + length));
    i = colon + 1 + length;
  }
  return out;
}

const frame = (packet) => `${packet.length}:${packet}`;

function bounded(promise, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} within ${BOUND} ms`)), BOUND);
    }),
  ]).finally(() => clearTimeout(timer));
}

/** A WebSocket whose text messages are queued; next() resolves to the next one. */
function openWs(url) {
  const ws = new WebSocket(url);
  const queue = [];
  const waiters = [];
  ws.on('message', (data) => {
    const w = waiters.shift();
    if (w) w(String(data));
    else queue.push(String(data));
  });
  ws.next = () => (queue.length ? Promise.resolve(queue.shift()) : new Promise((resolve) => waiters.push(resolve)));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

test('a poll made after the noop and before 3probe is answered, and the upgrade completes', async () => {
  const t = () => `t=${Date.now().toString(36)}`;
  const open = packets(await poll(t()));
  assert.match(open[0], /^0\{/);
  const { sid } = JSON.parse(open[0].slice(1));
  // What is left of the handshake (the `40` connect packet), if it came separately.
  const rest = open.slice(1);
  if (!rest.includes('40')) rest.push(...packets(await bounded(poll(`sid=${sid}&${t()}`), 'no 40')));
  assert.ok(rest.includes('40'), `the connect packet: ${JSON.stringify(rest)}`);

  const first = poll(`sid=${sid}&${t()}`); // pending, as the client always keeps one
  const ws = await openWs(`${server.url.replace('http', 'ws')}/socket.io/?EIO=3&transport=websocket&sid=${sid}`);
  ws.send('2probe');
  assert.equal(await bounded(ws.next(), 'no 3probe'), '3probe');
  assert.deepEqual(packets(await bounded(first, 'the pending poll got no noop')), ['6']);

  // The client polled again at once when the noop came, before it read 3probe; pausing
  // the transport waits for this poll.
  const second = await bounded(poll(`sid=${sid}&${t()}`), 'the poll pending during the upgrade was not answered');
  assert.deepEqual(packets(second), ['6']);

  ws.send('5');
  const room = unique('room');
  ws.send(`42${JSON.stringify(['joinRoom', { id: 'raw', room }])}`);
  assert.equal(await bounded(ws.next(), 'no joinedRoom'), `42${JSON.stringify(['joinedRoom', { room, connected: true }])}`);
  ws.close();
});
