'use strict';
// The SDK's signals on the wire: a newcomer in a full workspace sends an offer and dozens of
// ICE candidates to every member at once. Nothing may be lost (also when the server's request
// burst is lower than that), no candidate may cross a description, and candidates must not
// wait for one another's replies. Run: `cd tests/e2e && node --test signals.test.js`.

const { describe, it } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers');
const { countRefusals, gather, recordSignals, recordWire, withSdkPages } = require('./sdk-pages');

// A newcomer on a machine with several network interfaces: 40 candidates per peer.
const CANDIDATES = 40;
// Far below what the newcomer sends at once (4 offers and 160 candidates).
const LOW_LIMITS = { requests_per_second: 50, request_burst: 20 };
// The defaults of protocol 1.1, under which the burst must go through without a refusal.
const DEFAULT_LIMITS = { requests_per_second: 50, request_burst: 300 };

function candidate(i) {
  const payload = {
    candidate: `candidate:${i} 1 udp ${2122260223 - i} 192.0.2.${i + 1} ${50000 + i} typ host`,
    sdpMid: '0',
    sdpMLineIndex: 0,
  };
  return { event: 'icecandidate', name: `candidate ${i}`, payload };
}

function offer(generation) {
  const payload = { type: 'offer', sdp: `v=0\r\no=- 4711 ${generation} IN IP4 0.0.0.0\r\n` };
  return { event: 'negotiation', name: `offer ${generation}`, payload };
}

const candidates = (from, to) => Array.from({ length: to - from }, (_, i) => candidate(from + i));

/** What the newcomer sends each member when it joins: its offer, then its candidates. */
const JOIN = [offer(1), ...candidates(0, CANDIDATES)];
/** The same with an ICE restart halfway: candidates on both sides of the restart's offer. */
const JOIN_AND_RESTART = [
  offer(1),
  ...candidates(0, CANDIDATES / 2),
  offer(2),
  ...candidates(CANDIDATES / 2, CANDIDATES),
];

const signalKey = (event, payload) => `${event} ${payload.sdp ?? payload.candidate}`;

/**
 * Has the page's Switchboard send `sequence` to every member at once, step by step as
 * RTCPeerConnections gathering for each member would. Resolves to the error codes of the
 * signals that failed in the end, and how long it all took.
 */
function sendBurst(page, memberIds, sequence) {
  return page.evaluate(
    async ({ to, list }) => {
      const start = performance.now();
      const sends = [];
      for (const { event, payload } of list) {
        const send = event === 'negotiation' ? (id) => sb.negotiation(id, payload) : (id) => sb.iceCandidate(id, payload);
        sends.push(...to.map(send));
      }
      const results = await Promise.allSettled(sends);
      const failures = results.filter((r) => r.status === 'rejected').map((r) => r.reason.code);
      return { failures, ms: Math.round(performance.now() - start) };
    },
    { to: memberIds, list: sequence },
  );
}

// Candidates may come in any order between two descriptions (ICE does not mind): sorts
// each run of them, so that only the order that matters is compared.
function sortRuns(signals) {
  const sorted = [];
  let run = [];
  for (const s of [...signals, null]) {
    if (s?.type === 'icecandidate') {
      run.push(s);
      continue;
    }
    sorted.push(...run.sort((a, b) => a.payload.localeCompare(b.payload)));
    run = [];
    if (s) sorted.push(s);
  }
  return sorted;
}

async function receivedSignals(page, count) {
  const got = await h.eventually(
    () => page.evaluate(() => window.received),
    (r) => r.length >= count,
    { message: `${page.__label} to receive ${count} signals` },
  );
  return got.map(({ type, from, payload }) => ({ type, from, payload: payload.sdp ?? payload.candidate }));
}

// What must have been accepted before signal `k` of a sequence is sent: for a description,
// every signal made before it; for a candidate, the description before it.
function mustWaitFor(sequence, k) {
  const before = sequence.slice(0, k).map((_, j) => j);
  if (sequence[k].event !== 'icecandidate') return before;
  return before.filter((j) => sequence[j].event !== 'icecandidate').slice(-1);
}

/**
 * Reads the newcomer's wire (sdk-pages.recordWire): the signals sent before what they must
 * wait for was accepted, and the most candidates to one member in flight at once.
 */
function readWire(wire, memberIds, sequence) {
  const index = new Map(sequence.map((s, k) => [signalKey(s.event, s.payload), k]));
  const accepted = new Map(memberIds.map((id) => [id, new Set()]));
  const inFlight = new Map(memberIds.map((id) => [id, 0]));
  const requests = new Map();
  const early = [];
  let maxInFlight = 0;
  for (const entry of wire) {
    const payload = entry.data?.description ?? entry.data?.candidate;
    if (payload && index.has(signalKey(entry.event, payload))) {
      const [to, k] = [entry.data.to, index.get(signalKey(entry.event, payload))];
      requests.set(entry.request, { to, k });
      const missing = mustWaitFor(sequence, k).filter((j) => !accepted.get(to).has(j));
      if (missing.length) early.push(`${sequence[k].name} to ${to} before ${sequence[missing[0]].name} was accepted`);
      if (entry.event === 'icecandidate') inFlight.set(to, inFlight.get(to) + 1);
      maxInFlight = Math.max(maxInFlight, inFlight.get(to));
    } else if (requests.has(entry.reply)) {
      const { to, k } = requests.get(entry.reply);
      if (sequence[k].event === 'icecandidate') inFlight.set(to, inFlight.get(to) - 1);
      if (entry.ok) accepted.get(to).add(k);
    }
  }
  return { early, maxInFlight };
}

/**
 * Four members and a newcomer, who sends `sequence` to each member at once. Checks that
 * every member got all of it, candidates on their side of each description; resolves to
 * what the newcomer's wire and the burst showed.
 */
async function burstToFullWorkspace(open, sequence) {
  const members = [await open('owner'), await open('bob'), await open('cleo'), await open('dan')];
  const newcomer = await open('newcomer');
  countRefusals(newcomer);
  await recordWire(newcomer);
  const ids = await gather([...members, newcomer]);
  const [memberIds, newcomerId] = [ids.slice(0, 4), ids[4]];
  for (const page of members) await recordSignals(page);

  const { failures, ms } = await sendBurst(newcomer, memberIds, sequence);
  const expected = sortRuns(
    sequence.map(({ event, payload }) => ({ type: event, from: newcomerId, payload: payload.sdp ?? payload.candidate })),
  );
  for (const page of members) {
    const seen = sortRuns(await receivedSignals(page, expected.length));
    assert.deepEqual(seen, expected, `${page.__label} got every signal, no candidate across a description`);
  }
  const wire = readWire(await newcomer.evaluate(() => window.wire), memberIds, sequence);
  return { failures, ms, refusals: newcomer.__refusals, ...wire };
}

// What every burst must show: nothing failed, and no signal went before what it follows.
function assertDelivered(burst) {
  assert.deepEqual(burst.failures, [], 'every signal was accepted in the end');
  const rule = 'each offer went after every earlier signal was accepted, each candidate after its offer';
  assert.deepEqual(burst.early, [], rule);
}

describe('signals under a low request burst', { concurrency: false }, () => {
  const env = h.serverAndBrowser({ config: { limits: LOW_LIMITS } });

  async function refusedInPart(t, sequence) {
    await withSdkPages(t, env.browser, env.server.url, async (open) => {
      const burst = await burstToFullWorkspace(open, sequence);
      t.diagnostic(`the server refused ${burst.refusals} signals; all were accepted within ${burst.ms} ms`);
      assert.ok(burst.refusals > 0, "the burst went over the server's request_burst (the test reproduces it)");
      assertDelivered(burst);
    });
  }

  it('delivers every offer and candidate of a newcomer to every member', { timeout: 90_000 }, (t) =>
    refusedInPart(t, JOIN),
  );

  it("keeps candidates on their side of an ICE restart's offer", { timeout: 90_000 }, (t) =>
    refusedInPart(t, JOIN_AND_RESTART),
  );
});

describe('signals at the default limits', { concurrency: false }, () => {
  const env = h.serverAndBrowser({ config: { limits: DEFAULT_LIMITS } });

  it('sends candidates without waiting for one another, never ahead of their offer', { timeout: 60_000 }, async (t) => {
    await withSdkPages(t, env.browser, env.server.url, async (open) => {
      const burst = await burstToFullWorkspace(open, JOIN_AND_RESTART);
      t.diagnostic(`up to ${burst.maxInFlight} candidates to one member were in flight together; ${burst.ms} ms in all`);
      assert.equal(burst.refusals, 0, 'the server refused nothing (its default burst takes it all)');
      assert.ok(burst.maxInFlight > 1, 'candidates to a member went before the replies to the earlier ones came');
      assertDelivered(burst);
    });
  });
});
