import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    // Tests start servers, child processes and databases; forks isolate them best.
    pool: "forks",
    globalSetup: ["test/helpers/global-setup.ts"],
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
