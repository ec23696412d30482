/** The `cnn-v3/cli` entry: the command line in-process (`main(argv, io)`), for scripts and tests. */
export { main, usage, version } from './main.js';
export { bufferIO, processIO, type CliIO } from './io.js';
