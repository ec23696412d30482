#!/usr/bin/env node
import { removeStaged } from '../util/atomic-node.js';
import { main } from './main.js';

// Ctrl-C or a kill ends the process without running pending `finally` blocks: what was being
// written (a checkpoint, a sample, the demo's frames) is staged beside its destination, and goes.
for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
  process.once(signal, () => {
    removeStaged();
    process.exit(code);
  });
}

process.exitCode = await main(process.argv.slice(2));
