import { invalidArgument, type FieldViolation } from "./errors.js";

/** Violations listed per request at most; past this the caller learns nothing new, only waits. */
export const MAX_VIOLATIONS = 100;

/**
 * Collects every problem of a request so the caller can fix them all in one round trip, then
 * throws them together. Stops recording at MAX_VIOLATIONS; loops over big inputs check `full` to
 * stop working too.
 */
export class Violations {
  private readonly list: FieldViolation[] = [];

  add(field: string, description: string): void {
    if (this.list.length < MAX_VIOLATIONS) this.list.push({ field, description });
  }

  /** How many were recorded: lets a check run only if the ones before it found nothing. */
  get size(): number {
    return this.list.length;
  }

  get full(): boolean {
    return this.list.length >= MAX_VIOLATIONS;
  }

  /** @throws DomainError INVALID_ARGUMENT carrying every recorded violation, if there is one. */
  throwIfAny(): void {
    if (this.list.length > 0) throw invalidArgument(this.list);
  }
}
