import { Code } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { EXIT, EXIT_CODES_HELP, exitCodeForConnectCode } from "../../src/cli/exit-codes.js";

describe("exit codes of RPC errors", () => {
  it("gives each Connect code the exit code the help table documents for it", () => {
    const expected: Partial<Record<Code, number>> = {
      [Code.InvalidArgument]: 2,
      [Code.NotFound]: 3,
      [Code.PermissionDenied]: 4,
      [Code.Unauthenticated]: 5,
      [Code.FailedPrecondition]: 6,
      [Code.OutOfRange]: 6,
      [Code.AlreadyExists]: 7,
      [Code.Unavailable]: 8,
      [Code.Aborted]: 8,
    };
    const codes = Object.values(Code).filter((c): c is Code => typeof c === "number");
    for (const code of codes) expect([Code[code], exitCodeForConnectCode(code)]).toEqual([Code[code], expected[code] ?? EXIT.ERROR]);
    // Every code mapped is in the table next to its exit code, but OUT_OF_RANGE (a watch's
    // after_sequence past the history), which shares 6 as EXIT.FAILED_PRECONDITION's doc says.
    for (const [code, exit] of Object.entries(expected).filter(([c]) => Number(c) !== Code.OutOfRange)) {
      const name = Code[Number(code)]!.replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
      expect(EXIT_CODES_HELP).toMatch(new RegExp(`\\b${exit}\\s+[^\\n]*?\\b${name}\\b`));
    }
  });
});
