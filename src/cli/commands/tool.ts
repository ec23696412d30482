import { intFlag, parseFlags, stringFlag } from '../args.js';
import { onInterrupt } from '../interrupt.js';
import type { CliIO } from '../io.js';
import { STATIC_SERVER_DEFAULTS, startStaticServer, type RunningServer } from '../../serve/static-node.js';

export const TOOL_HELP = `Usage: cnnv3 tool [--port N] [--host 127.0.0.1]

Serves the HTML WebGPU tool (built into dist/tool by npm run build) on 127.0.0.1 and prints
its address. Open it in a browser with WebGPU (Chrome, Edge; Chromium with
--enable-unsafe-webgpu). The folder also works behind any static file server. The demo player
(cnnv3 demo's .seq files in the browser, with their audio) is player.html beside the tool.
`;

/** Where the built page lives, relative to this module (dist/cli/commands → dist/tool). */
export function toolRoot(): string {
  const rel = import.meta.url.endsWith('.ts') ? '../../../dist/tool' : '../../tool';
  return new URL(rel, import.meta.url).pathname;
}

export async function startTool(argv: string[], io: CliIO): Promise<RunningServer | undefined> {
  const { values } = parseFlags('tool', argv, { port: { type: 'string' }, host: { type: 'string' } });
  if (values['help']) {
    io.stdout(TOOL_HELP);
    return undefined;
  }
  const server = await startStaticServer({
    root: toolRoot(),
    port: intFlag('tool', values, 'port', STATIC_SERVER_DEFAULTS.port, 0, 65535),
    host: stringFlag(values, 'host') ?? STATIC_SERVER_DEFAULTS.host,
  });
  io.stdout(`cnnv3 tool: ${server.url}  (Ctrl-C to stop)\n`);
  return server;
}

export async function toolCommand(argv: string[], io: CliIO): Promise<number> {
  const server = await startTool(argv, io);
  if (!server) return 0;
  // Ctrl-C stops the server: the normal way to end this command, so it exits 0.
  let unregister = () => {};
  await new Promise<void>((resolve) => {
    unregister = onInterrupt(resolve);
  });
  unregister();
  await server.close();
  process.exitCode = 0;
  return 0;
}
