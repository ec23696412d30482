import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// The layers (ARCHITECTURE.md): library code never reaches up into the command line, the HTML
// tool or the benchmarks, and the effect never depends on the trainer.
const upward = (from) => [
  { group: [`${from}cli/*`, `${from}cli/**`], message: 'Library code may not import the CLI: move what you need into the library and let the CLI call it.' },
  { group: [`${from}tool/*`, `${from}tool/**`], message: 'Library code may not import the HTML tool.' },
  { group: [`${from}bench/*`, `${from}bench/**`], message: 'Library code may not import the benchmarks.' },
];
const relatives = ['../', '../../', '../../../'];

export default tseslint.config(
  { ignores: ['dist/', 'out/', 'node_modules/', '.gpu/', 'gpu-dist/', 'coverage/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The embedding examples: plain browser ESM, no bundler.
    files: ['examples/**/*.js'],
    languageOptions: {
      globals: Object.fromEntries(
        ['window', 'document', 'navigator', 'location', 'fetch', 'URLSearchParams', 'createImageBitmap', 'Blob', 'performance', 'GPUTextureUsage', 'GPUBufferUsage', 'GPUMapMode'].map((g) => [g, 'readonly']),
      ),
    },
  },
  {
    // Every library folder and both library entries (src/index.ts, src/node.ts).
    files: ['src/**/*.ts'],
    ignores: ['src/cli/**', 'src/tool/**', 'src/bench/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: relatives.flatMap(upward) }] },
  },
  {
    files: ['src/effect/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            ...relatives.flatMap(upward),
            { group: relatives.flatMap((r) => [`${r}train/*`, `${r}train/**`]), message: 'The effect may not import the trainer: share through model/ or gpu/.' },
          ],
        },
      ],
    },
  },
);
