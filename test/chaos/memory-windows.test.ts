import { describe, expect, it } from "vitest";
import { memoryWindows } from "./memory-windows.js";

describe("memory windows", () => {
  it("compares the first window after warm-up with the last one, per replica", () => {
    const samples = Array.from({ length: 60 }, (_, i) => [
      { atS: i, replica: "flat", mib: i < 10 ? 50 + i : 100 + (i % 2) },
      { atS: i, replica: "leaky", mib: 100 + i },
    ]).flat();
    const [flat, leaky] = memoryWindows(samples, 10, 10, 60);
    expect(flat).toMatchObject({ replica: "flat", first: [10, 20], last: [50, 60], growthPct: 0 });
    expect(leaky!.replica).toBe("leaky");
    expect(leaky!.growthPct).toBeCloseTo(((154.5 - 114.5) / 114.5) * 100, 0);
  });
});
