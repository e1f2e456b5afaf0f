// jest setup file: keep expected warnings (barrier timeouts, unreachable peers) out of the test
// output unless SPIRT_LOG_LEVEL asks for them.
process.env.SPIRT_LOG_LEVEL ??= 'error';
