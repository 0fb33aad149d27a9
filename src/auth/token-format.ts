import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * API tokens look like `sagad_<key id>_<secret>`:
 * - the key id (16 hex digits, random) is public: `sagad token list` shows it, and the server looks
 *   the token up by it, so checking a token never compares it against any other token's hash;
 * - the secret is 32 random bytes (256 bits) in base64url, shown once at creation and never stored.
 *
 * Only SHA-256 of the secret is stored. A slow password hash (bcrypt, scrypt, argon2) exists to
 * make guessing a low-entropy human password expensive; a 256-bit random secret cannot be guessed
 * however fast the hash is, so a fast hash loses nothing and keeps every request cheap.
 */
export const TOKEN_PREFIX = "sagad_";

const KEY_ID_BYTES = 8;
const SECRET_BYTES = 32;
const TOKEN_PATTERN = /^sagad_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

/** Token names: 1 to 64 of [A-Za-z0-9_.-], starting with a letter or digit (they appear in logs and events). */
export const TOKEN_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;

/** A token as created: the full bearer string (shown once) and what is stored about it. */
export interface NewToken {
  /** `sagad_<key id>_<secret>`: what a client sends; never stored, never logged. */
  readonly token: string;
  readonly keyId: string;
  readonly secretHash: Buffer;
}

/** Generates a fresh key id and secret from the OS's CSPRNG. */
export function generateToken(): NewToken {
  const keyId = randomBytes(KEY_ID_BYTES).toString("hex");
  const secret = randomBytes(SECRET_BYTES).toString("base64url");
  return { token: `${TOKEN_PREFIX}${keyId}_${secret}`, keyId, secretHash: hashSecret(secret) };
}

/**
 * Splits a presented token into key id and secret; null when it is not shaped like one of ours
 * (wrong prefix, wrong lengths or alphabet), so garbage never reaches a lookup.
 */
export function parseToken(token: string): { keyId: string; secret: string } | null {
  const match = TOKEN_PATTERN.exec(token);
  return match ? { keyId: match[1]!, secret: match[2]! } : null;
}

/** SHA-256 of the secret: 32 bytes, the only form in which a secret is kept. */
export function hashSecret(secret: string): Buffer {
  return createHash("sha256").update(secret, "utf8").digest();
}

/**
 * True when `secret` hashes to `expectedHash`, compared in constant time, so response timing says
 * nothing about how much of a guess was right.
 */
export function secretMatches(secret: string, expectedHash: Uint8Array): boolean {
  const actual = hashSecret(secret);
  return actual.length === expectedHash.length && timingSafeEqual(actual, expectedHash);
}
