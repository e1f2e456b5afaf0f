#!/usr/bin/env node
'use strict';
// `spirt` entry: runs the compiled CLI (npm run setup builds it).
const { existsSync } = require('node:fs');
const { join } = require('node:path');

const cli = join(__dirname, '..', 'dist', 'workers', 'cli', 'index.js');
if (!existsSync(cli)) {
  process.stderr.write('spirt: error: not built yet; run: npm run setup\n');
  process.exit(1);
}
require(cli)
  .main(process.argv.slice(2))
  .then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`spirt: error: ${err && err.message ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
