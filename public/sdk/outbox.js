// Signals (offers, answers, ICE candidates, hangups, state) leave in the order they were
// made, and one the server refuses with `rate_limited` is sent again rather than lost: a
// newcomer in a full workspace sends an offer and dozens of candidates to every member at
// once, and a server configured below that burst refuses part of it.
//
// One signal per target is in flight at a time. Pipelining would be faster, but the
// server may refuse one frame and accept the next (its bucket refills in between, or a
// slow target drained), and a candidate would then overtake the offer it belongs to.
// Targets proceed side by side. A signal to everyone (no `to`) waits for every signal made
// before it, and every later one waits for it.
//
// Pacing: a refusal sets a gap between sends that doubles with each further refusal (the
// rate limit is the connection's, so every target keeps it), and shrinks a little with
// each accepted signal: sends settle near the rate the server allows. Once nothing has been
// refused for a while, the gap is forgotten: while nothing is refused, nothing waits.

const MIN_GAP_MS = 10;
const MAX_GAP_MS = 5_000;
const EASE = 0.95;
const FORGET_MS = 2_000;
const EVERYONE = Symbol('everyone');

export class Outbox {
  /** `send(event, data)` resolves to the reply's data or rejects with a SwitchboardError. */
  constructor(send) {
    this._send = send;
    /** Signals not yet accepted or failed, in the order they were made. */
    this._items = [];
    this._gapMs = 0;
    this._nextAt = 0;
    this._lastRefusal = 0;
    this._timer = null;
    // Counts the times the gap grew, so that signals sent together double it once.
    this._wave = 0;
  }

  /** Queues a signal; resolves to its reply once the server accepted it. */
  push(event, data) {
    return new Promise((resolve, reject) => {
      this._items.push({ event, data, lane: data.to ?? EVERYONE, resolve, reject, sending: false, wave: 0 });
      this._pump();
    });
  }

  /** Rejects every queued signal with `err`: their connection is gone, they are stale. */
  flush(err) {
    const items = this._items;
    this._items = [];
    clearTimeout(this._timer);
    this._timer = null;
    this._gapMs = 0;
    this._nextAt = 0;
    items.forEach((item) => {
      item.done = true;
      item.reject(err);
    });
  }

  /** Rejects the queued signals to `to` with `err` (it left or went offline: they are stale). */
  drop(to, err) {
    for (const item of this._items.filter((i) => i.lane === to && !i.sending)) {
      this._settle(item, () => item.reject(err));
    }
    this._pump();
  }

  _pump() {
    if (this._timer) return; // waiting out the gap; the timer pumps again
    for (const item of this._ready()) {
      const wait = this._nextAt - Date.now();
      if (wait > 0) {
        this._timer = setTimeout(() => {
          this._timer = null;
          this._pump();
        }, wait);
        return;
      }
      this._attempt(item);
      this._nextAt = Date.now() + this._gap();
    }
  }

  // The signals that may go now: the first of each target with nothing in flight, none
  // past a signal to everyone, and one to everyone only when it is first.
  _ready() {
    const ready = [];
    const busy = new Set();
    for (const item of this._items) {
      if (busy.has(EVERYONE) || (item.lane === EVERYONE && busy.size > 0)) break;
      if (!busy.has(item.lane) && !item.sending) ready.push(item);
      busy.add(item.lane);
    }
    return ready;
  }

  async _attempt(item) {
    item.sending = true;
    item.wave = this._wave;
    try {
      const reply = await this._send(item.event, item.data);
      this._accepted();
      this._settle(item, () => item.resolve(reply));
    } catch (err) {
      item.sending = false;
      if (err.code === 'rate_limited' && !item.done) this._refused(item);
      else this._settle(item, () => item.reject(err));
    }
    this._pump();
  }

  _settle(item, finish) {
    if (item.done) return; // flushed meanwhile
    item.done = true;
    this._items.splice(this._items.indexOf(item), 1);
    finish();
  }

  _gap() {
    if (Date.now() - this._lastRefusal > FORGET_MS) this._gapMs = 0;
    return this._gapMs;
  }

  _refused(item) {
    // Refusals of signals sent before the gap last grew say nothing new about the rate.
    if (item.wave === this._wave) {
      this._wave += 1;
      this._gapMs = Math.min(MAX_GAP_MS, Math.max(MIN_GAP_MS, this._gapMs * 2));
    }
    this._lastRefusal = Date.now();
    this._nextAt = Math.max(this._nextAt, Date.now() + this._gapMs);
  }

  _accepted() {
    if (this._gapMs > 0) this._gapMs = Math.max(MIN_GAP_MS, this._gapMs * EASE);
  }
}
