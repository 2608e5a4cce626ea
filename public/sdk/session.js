// What the SDK's parts share: its error type, reading a token's claims, and the session
// tokens kept in sessionStorage so that a reloaded page can re-attend.

const STORAGE_PREFIX = 'switchboard:session:';
const LAST_KEY = 'switchboard:last';

/** A failed request: `code` is the protocol's error code, or `timeout` / `disconnected`. */
export class SwitchboardError extends Error {
  constructor(code, message) {
    super(message || code);
    this.name = 'SwitchboardError';
    this.code = code;
  }
}

/** The claims of a JWT, unverified (the server verifies; we only read `wid` and `exp`). */
export function decodeToken(token) {
  try {
    const b64 = token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    const bytes = Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

// Drops undefined fields, so that optional fields are left out rather than sent as null.
export function compact(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== undefined));
}

function storage() {
  try {
    return window.sessionStorage;
  } catch {
    return null; // storage disabled: sessions then only survive reconnects, not reloads
  }
}

/** Session tokens in sessionStorage: one per workspace (per tab), plus the last one used. */
export const sessions = {
  /** The stored session token for a workspace id, or null. */
  get(workspaceId) {
    return storage()?.getItem(STORAGE_PREFIX + workspaceId) ?? null;
  },
  set(workspaceId, token) {
    storage()?.setItem(STORAGE_PREFIX + workspaceId, token);
    storage()?.setItem(LAST_KEY, workspaceId);
  },
  forget(workspaceId) {
    const s = storage();
    if (!s) return;
    s.removeItem(STORAGE_PREFIX + workspaceId);
    if (s.getItem(LAST_KEY) === workspaceId) s.removeItem(LAST_KEY);
  },
  /** The most recently stored session: `{workspaceId, token}` or null. */
  last() {
    const workspaceId = storage()?.getItem(LAST_KEY);
    const token = workspaceId && this.get(workspaceId);
    return token ? { workspaceId, token } : null;
  },
};
