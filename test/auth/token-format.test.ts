import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { generateToken, hashSecret, parseToken, secretMatches, TOKEN_NAME_PATTERN } from "../../src/auth/token-format.js";

describe("token format", () => {
  it("is sagad_<16 hex key id>_<256-bit base64url secret>, and only the secret's SHA-256 is kept", () => {
    const t = generateToken();
    const match = /^sagad_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(t.token);
    expect(match, t.token).not.toBeNull();
    expect(match![1]).toBe(t.keyId);
    const secret = match![2]!;
    expect(Buffer.from(secret, "base64url")).toHaveLength(32);
    expect(t.secretHash.equals(createHash("sha256").update(secret).digest())).toBe(true);
    expect(Object.values(t).filter((v) => typeof v === "string" && v.includes(secret))).toEqual([t.token]);
  });

  it("never repeats a key id or a secret", () => {
    const tokens = Array.from({ length: 1000 }, generateToken);
    expect(new Set(tokens.map((t) => t.keyId)).size).toBe(1000);
    expect(new Set(tokens.map((t) => parseToken(t.token)!.secret)).size).toBe(1000);
  });

  it("parses its own tokens back into key id and secret, secrets with - and _ included", () => {
    const secret = "a_b-c".padEnd(43, "_");
    expect(parseToken(`sagad_0123456789abcdef_${secret}`)).toEqual({ keyId: "0123456789abcdef", secret });
    const t = generateToken();
    expect(parseToken(t.token)?.keyId).toBe(t.keyId);
  });

  it.each([
    ["empty", ""],
    ["another prefix", `token_0123456789abcdef_${"a".repeat(43)}`],
    ["upper-case key id", `sagad_0123456789ABCDEF_${"a".repeat(43)}`],
    ["short key id", `sagad_0123456789abcde_${"a".repeat(43)}`],
    ["short secret", `sagad_0123456789abcdef_${"a".repeat(42)}`],
    ["long secret", `sagad_0123456789abcdef_${"a".repeat(44)}`],
    ["padding", `sagad_0123456789abcdef_${"a".repeat(42)}=`],
    ["trailing space", `sagad_0123456789abcdef_${"a".repeat(43)} `],
  ])("rejects a malformed token (%s)", (_, token) => {
    expect(parseToken(token)).toBeNull();
  });

  it("matches a secret only against its own hash", () => {
    const a = parseToken(generateToken().token)!.secret;
    const b = parseToken(generateToken().token)!.secret;
    expect(secretMatches(a, hashSecret(a))).toBe(true);
    expect(secretMatches(b, hashSecret(a))).toBe(false);
    // A stored hash of the wrong length (a corrupt row) is a mismatch, not a crash.
    expect(secretMatches(a, hashSecret(a).subarray(0, 31))).toBe(false);
  });

  it("admits names that are safe in logs and events", () => {
    for (const name of ["ci-deployer", "bootstrap-admin", "a", "team.payments_2", "x".repeat(64)]) {
      expect(TOKEN_NAME_PATTERN.test(name), name).toBe(true);
    }
    for (const name of ["", "-leading-dash", "has space", "x".repeat(65), "new\nline", "émoji"]) {
      expect(TOKEN_NAME_PATTERN.test(name), name).toBe(false);
    }
  });
});
