#!/usr/bin/env node
import { removeStaged } from '../util/atomic-node.js';
import { installInterruptHandlers, interruptExitCode } from './interrupt.js';
import { main } from './main.js';

// Ctrl-C or a kill: what was being written (a checkpoint, a sample, the demo's frames) is staged
// beside its destination and goes; see interrupt.ts.
installInterruptHandlers();
const code = await main(process.argv.slice(2));
if (interruptExitCode() !== undefined) removeStaged();
process.exitCode = interruptExitCode() ?? code;
