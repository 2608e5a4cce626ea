// For checking the SDK's sources only (never emitted, never shipped): what lib.dom types
// more narrowly than browsers behave.

// The HTML standard's clearTimeout takes any value (a missing or unknown id does nothing),
// and the SDK clears timers that may not have been set (`null`).
declare function clearTimeout(id: ReturnType<typeof setTimeout> | null | undefined): void;
