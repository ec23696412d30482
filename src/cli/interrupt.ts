/**
 * Ctrl-C and SIGTERM for the command line. Staged outputs are removed at once (atomic-node's
 * registry). A command that may hold a GPU device (demo, train) registers a stopper instead of
 * being killed mid-frame or mid-step (ending the process while Dawn's threads run can crash it
 * with SIGSEGV): the stopper makes the command unwind through its `finally` blocks (the device
 * destroyed, child processes such as ffmpeg stopped), and it then ends with the signal's exit
 * code. test/interrupt.test.ts sends both signals at several moments of each long command.
 */
import { removeStaged } from '../util/atomic-node.js';

const EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;
type Signal = keyof typeof EXIT_CODES;

let received: Signal | undefined;
const stoppers = new Set<() => void>();

/** The signal that asked the process to stop, if one did. */
export const interruptedBy = (): Signal | undefined => received;

/** The exit code for the signal received (130 for SIGINT, 143 for SIGTERM), else undefined. */
export const interruptExitCode = (): number | undefined => (received === undefined ? undefined : EXIT_CODES[received]);

/** While registered, a signal calls `stop` instead of ending the process; returns the unregister function. */
export function onInterrupt(stop: () => void): () => void {
  stoppers.add(stop);
  return () => stoppers.delete(stop);
}

/** Installs the handlers (the real process only: bin.ts). A second signal ends the process at once. */
export function installInterruptHandlers(): void {
  for (const signal of Object.keys(EXIT_CODES) as Signal[]) {
    process.on(signal, () => {
      if (received !== undefined || stoppers.size === 0) {
        removeStaged();
        process.exit(EXIT_CODES[signal]);
      }
      // The command unwinds and removes its own staging; bin.ts sweeps whatever is left.
      received = signal;
      for (const stop of stoppers) stop();
    });
  }
}
