import { defineConfig } from "vitest/config";

// Tests run as root against the real kernel; two cores, so at most two files at once.
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    exclude: ["test/vm/**", "node_modules/**"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    poolOptions: { forks: { maxForks: 2, minForks: 1 } },
    // CI also keeps a JSON report, from which .ci/run prints the plain summary line.
    reporters: process.env.CI ? ["default", ["json", { outputFile: ".tmp/vitest-results.json" }]] : ["default"],
  },
});
