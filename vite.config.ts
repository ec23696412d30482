// The HTML tool: a static page built from src/tool into dist/tool, with relative asset URLs so
// the folder works behind any static server (`cnnv3 tool` serves it on 127.0.0.1). A second
// page, player.html, plays .seq demos.
import { defineConfig } from 'vite';

export default defineConfig({
  root: 'src/tool',
  base: './',
  logLevel: 'warn',
  build: {
    outDir: '../../dist/tool',
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    rollupOptions: {
      input: { main: 'src/tool/index.html', player: 'src/tool/player.html' },
    },
  },
});
