import { defineConfig } from "vitest/config";

export default defineConfig({
  // The console's .tsx (rendered in component tests) is Preact's JSX, as in src/console/vite.config.ts.
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  test: {
    // Tests start servers, child processes and databases; forks isolate them best.
    pool: "forks",
    globalSetup: ["test/helpers/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
