// Builds the dashboard into dist/web (served by src/dashboard). Preact's JSX through esbuild;
// hashed file names so the server can cache assets for a year.
import { defineConfig } from 'vite';
import { fileURLToPath } from 'node:url';

const here = fileURLToPath(new URL('.', import.meta.url));

export default defineConfig({
  root: here,
  base: '/',
  publicDir: false,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  resolve: { alias: { react: 'preact/compat', 'react-dom': 'preact/compat' } },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    assetsInlineLimit: 4096,
    reportCompressedSize: true,
  },
  server: {
    // `vite --config web/vite.config.mjs` against a running `fastgpu up` on 7070.
    proxy: { '/v1': 'http://127.0.0.1:7070', '/dashboard': 'http://127.0.0.1:7070' },
  },
});
