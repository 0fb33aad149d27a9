import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

/**
 * The console's own build: `npm run build:console` (run by `npm ci` through `prepare`, and by
 * `npm pack`) writes hashed files to dist/console, which sagad serves under /console/. Nothing is
 * inlined (no inline script or style, no data: URLs), so the page runs under a CSP of 'self' only.
 */
export default defineConfig({
  root: fileURLToPath(new URL(".", import.meta.url)),
  base: "/console/",
  logLevel: "warn",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    outDir: fileURLToPath(new URL("../../dist/console", import.meta.url)),
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
  },
});
