//! Storage backends. Workspaces live in the hub's memory (`storage.backend = "memory"`);
//! durable backends come with their own module here and keep the relay path untouched.
