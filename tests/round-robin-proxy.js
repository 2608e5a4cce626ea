'use strict';
// A load balancer without sticky sessions, for the cluster tests: every HTTP request, and
// every WebSocket upgrade, goes to the next node in turn, whatever connection or session
// it belongs to (docs/cluster.md: "nginx spreads WebSockets and polling alike, with no
// stickiness needed"). node:http and node:net only.
//
// A node that refuses the connection is skipped for that request, and the next one in turn
// gets it, as nginx does (`proxy_next_upstream error`, the default) for a request not yet
// sent; `down(i)` takes a node out by hand, as an operator or a health check does.

const http = require('node:http');
const net = require('node:net');

class RoundRobinProxy {
  /** Listens on a free port of 127.0.0.1 in front of `targets` (ports or `{port}`s). */
  static async start(targets) {
    const proxy = new RoundRobinProxy(targets.map((t) => (typeof t === 'number' ? t : t.port)));
    await new Promise((resolve, reject) => {
      proxy.server.once('error', reject);
      proxy.server.listen(0, '127.0.0.1', resolve);
    });
    proxy.port = proxy.server.address().port;
    proxy.url = `http://127.0.0.1:${proxy.port}`;
    return proxy;
  }

  constructor(ports) {
    this.ports = ports;
    this.next = 0;
    this.out = new Set(); // indexes taken out with down()
    /** Every request passed on: {kind: 'http' | 'upgrade', method, url, node (index)}. */
    this.log = [];
    this.sockets = new Set(); // upgraded sockets, both ends, to end at close()
    this.server = http.createServer((req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', (err, socket) => socket.destroy());
  }

  /** Takes node `i` out of the rotation. */
  down(i) {
    this.out.add(i);
  }

  /** Puts node `i` back. */
  up(i) {
    this.out.delete(i);
  }

  /** The indexes of the nodes to try for one request: the next in turn first, then the others. */
  order() {
    const n = this.ports.length;
    const first = this.next;
    this.next = (this.next + 1) % n;
    const order = [];
    for (let k = 0; k < n; k++) {
      const i = (first + k) % n;
      if (!this.out.has(i)) order.push(i);
    }
    return order;
  }

  /** The nodes that requests whose URL matches `pattern` went to (indexes, as a Set). */
  nodesFor(pattern) {
    return new Set(this.log.filter((e) => pattern.test(e.url)).map((e) => e.node));
  }

  onRequest(req, res) {
    // The body is read whole first (polling POSTs are small), so that a node that refuses
    // the connection can be skipped without losing it.
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('error', () => res.destroy());
    req.on('end', () => this.pass(req, res, Buffer.concat(chunks), this.order()));
  }

  pass(req, res, body, order) {
    const i = order.shift();
    if (i === undefined) {
      res.writeHead(502, { 'content-type': 'text/plain' });
      res.end('no node answers');
      return;
    }
    const headers = { ...req.headers, host: `127.0.0.1:${this.ports[i]}` };
    delete headers.connection;
    delete headers['keep-alive'];
    const upstream = http.request({ host: '127.0.0.1', port: this.ports[i], method: req.method, path: req.url, headers, agent: false });
    let connected = false;
    upstream.on('socket', (s) => s.once('connect', () => (connected = true)));
    upstream.on('response', (up) => {
      this.log.push({ kind: 'http', method: req.method, url: req.url, node: i });
      const out = { ...up.headers };
      delete out.connection;
      delete out['keep-alive'];
      res.writeHead(up.statusCode, out);
      up.pipe(res);
      up.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      if (!connected) this.pass(req, res, body, order); // refused: the next node
      else res.destroy();
    });
    // A client that goes away (a poll aborted on close) takes its pending request with it.
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  }

  onUpgrade(req, socket, head) {
    socket.on('error', () => {});
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    this.tunnel(req, socket, head, this.order());
  }

  tunnel(req, socket, head, order) {
    const i = order.shift();
    if (i === undefined || socket.destroyed) {
      socket.end('HTTP/1.1 502 Bad Gateway\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const upstream = net.connect(this.ports[i], '127.0.0.1');
    this.sockets.add(upstream);
    upstream.on('close', () => this.sockets.delete(upstream));
    let open = false;
    upstream.on('error', () => {
      if (open) socket.destroy();
      else this.tunnel(req, socket, head, order); // refused: the next node
    });
    upstream.once('connect', () => {
      open = true;
      this.log.push({ kind: 'upgrade', method: req.method, url: req.url, node: i });
      const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
      for (let k = 0; k < req.rawHeaders.length; k += 2) {
        const name = req.rawHeaders[k];
        lines.push(`${name}: ${name.toLowerCase() === 'host' ? `127.0.0.1:${this.ports[i]}` : req.rawHeaders[k + 1]}`);
      }
      upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head && head.length) upstream.write(head);
      socket.pipe(upstream);
      upstream.pipe(socket);
      socket.on('close', () => upstream.destroy());
      upstream.on('close', () => socket.destroy());
    });
  }

  /** Stops listening and ends every connection through it. */
  async close() {
    for (const s of this.sockets) s.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(() => resolve()));
  }
}

module.exports = { RoundRobinProxy };
