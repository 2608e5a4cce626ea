// The admin console (placeholder until written).
