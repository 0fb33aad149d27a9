import { createHmac, timingSafeEqual } from "node:crypto";
import type { AttemptPhase } from "../domain/attempt-phase.js";
import { DomainError } from "../domain/errors.js";
import type { TaskRef } from "../store/task-store.js";

const PREFIX = "sgt1";
const PHASES: Record<string, AttemptPhase> = { a: "action", c: "compensate" };

/**
 * Task tokens: opaque to workers, and signed with a key every replica shares (stored in
 * Postgres), so any replica can check a result without a lookup and nobody can forge a token for
 * another step, attempt or delivery. A token names exactly one offer: after a requeue the old
 * one no longer matches the task's delivery and is refused as stale.
 */
export class TaskTokens {
  constructor(private readonly key: Buffer) {}

  sign(ref: TaskRef): string {
    const payload = `${ref.sagaId}.${ref.stepIdx}.${ref.phase === "action" ? "a" : "c"}.${ref.attempt}.${ref.delivery}`;
    return `${PREFIX}.${Buffer.from(payload).toString("base64url")}.${this.mac(payload)}`;
  }

  /** The task a token names; INVALID_ARGUMENT naming `field` if it is not one of ours. */
  verify(token: string, field = "token"): TaskRef {
    const parts = token.split(".");
    const invalid = () =>
      new DomainError("INVALID_ARGUMENT", `${field}: not a task token issued by this sagad`, [
        { field, description: "is not a task token issued by this sagad (it may be cut short or from another cluster)" },
      ]);
    if (parts.length !== 3 || parts[0] !== PREFIX) throw invalid();
    const payload = Buffer.from(parts[1]!, "base64url").toString();
    const expected = Buffer.from(this.mac(payload));
    const given = Buffer.from(parts[2]!);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) throw invalid();
    const [sagaId, stepIdx, phase, attempt, delivery] = payload.split(".");
    return {
      sagaId: sagaId!,
      stepIdx: Number(stepIdx),
      phase: PHASES[phase!]!,
      attempt: Number(attempt),
      delivery: Number(delivery),
    };
  }

  private mac(payload: string): string {
    return createHmac("sha256", this.key).update(payload).digest("base64url");
  }
}
