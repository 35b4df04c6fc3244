// Placeholder until the protocol codegen lands; prints nothing and succeeds.
