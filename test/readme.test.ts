import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { WorkerMetrics } from "../src/api/worker-metrics.js";
import { Metrics } from "../src/api/metrics.js";
import { EXIT_CODES_HELP } from "../src/cli/exit-codes.js";
import { CONFIG_HELP } from "../src/config.js";
import { parsePrometheusText } from "./helpers/prometheus-text.js";

const readme = await readFile(new URL("../README.md", import.meta.url), "utf8");

/** The README promises things the code must keep; these are the ones a test can hold it to. */
describe("README", () => {
  it("shows the --help output exactly", () => {
    expect(readme).toContain("```\n" + CONFIG_HELP + "\n```");
  });

  it("shows the CLI's exit codes exactly as `sagad help` prints them", () => {
    expect(readme).toContain("```\n" + EXIT_CODES_HELP + "\n```");
  });

  it("documents every sagad_ metric family, and no other", async () => {
    const metrics = new Metrics({ leasesHeld: () => 0, circuits: () => [], processMetrics: false });
    new WorkerMetrics(metrics.registry, { connected: () => 0, queueDepth: async () => new Map() });
    const served = [...parsePrometheusText((await metrics.render()).body).keys()].sort();
    const documented = [...readme.matchAll(/^\| `(sagad_[a-z_]+)` \|/gm)].map((m) => m[1]).sort();
    expect(documented).toEqual(served);
  });
});
