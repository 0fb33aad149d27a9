import type { DefinitionState } from "../domain/definition-record.js";
import { DomainError, failedPrecondition } from "../domain/errors.js";
import type { CompiledDefinition } from "../domain/validate-definition.js";
import { validateDefinitionSpec } from "../domain/validate-definition.js";
import type { ValidationLimits } from "../domain/validate-saga.js";
import type { DefinitionStore } from "../store/definition-store.js";
import { rawDefinitionSpec, specFromJson } from "./convert-definitions.js";

/** A definition version ready for CreateSaga. */
export interface ResolvedDefinition {
  version: number;
  state: DefinitionState;
  compiled: CompiledDefinition;
}

/** Compiled versions and heads kept per replica, each map at most this many entries (least recently used go first). */
const MAX_CACHED = 1000;

interface Head {
  version: number;
  state: DefinitionState;
}

/**
 * Definitions as CreateSaga and RenderDefinition need them: the version a request names resolved
 * to its head (number and state), and its compiled spec (validated steps, compiled vars schema).
 * A compiled spec never goes stale: versions are immutable. A head can (a newer latest version, a
 * state set on another replica), so CreateSaga treats a cached head as a guess that the saga's
 * insert checks in the same statement (DefinitionGuard), and asks for a `fresh` one when it
 * failed. DISABLED heads are never cached, so re-activating a version takes effect at once.
 */
export class DefinitionCatalog {
  private readonly compiled = new Map<string, CompiledDefinition>();
  private readonly heads = new Map<string, Head>();

  constructor(
    private readonly store: DefinitionStore,
    private readonly limits: ValidationLimits,
    private readonly acceptsAction: (name: string) => boolean,
  ) {}

  /**
   * @param fresh read the head from the database, not from this replica's cache.
   * @throws DomainError NOT_FOUND for an unknown name or version; FAILED_PRECONDITION for a DISABLED
   *   version; INVALID_ARGUMENT if this replica cannot run it (an action it does not have).
   */
  async resolve(name: string, version: number, fresh = false): Promise<ResolvedDefinition> {
    const key = `${version}:${name}`;
    let head = fresh ? undefined : recall(this.heads, key);
    if (head === undefined) {
      const stored = await this.store.head(name, version);
      this.heads.delete(key);
      if (stored === null) throw missing(name, version);
      head = stored;
      if (head.state !== "DISABLED") remember(this.heads, key, head);
    }
    if (head.state === "DISABLED") {
      throw failedPrecondition(
        `definition ${JSON.stringify(name)} version ${head.version} is DISABLED; activate it or start another version`,
        "DISABLED",
      );
    }
    return { version: head.version, state: head.state, compiled: await this.compile(name, head.version) };
  }

  /** Drops the heads of `name` this replica holds: it changed here, so the next create needs no refused insert to learn it. */
  forget(name: string): void {
    for (const key of this.heads.keys()) if (key.slice(key.indexOf(":") + 1) === name) this.heads.delete(key);
  }

  private async compile(name: string, version: number): Promise<CompiledDefinition> {
    const key = `${version}:${name}`;
    const cached = recall(this.compiled, key);
    if (cached) return cached;
    const record = await this.store.get(name, version);
    if (record === null) throw missing(name, version);
    let compiled: CompiledDefinition;
    try {
      compiled = validateDefinitionSpec(rawDefinitionSpec(specFromJson(record.spec)), this.limits, this.acceptsAction);
    } catch (err) {
      // Registered elsewhere (another replica's actions, other limits): say why this one refuses.
      if (err instanceof DomainError && err.reason === "INVALID_ARGUMENT") {
        const why = err.violations.map((v) => ({ field: `definition_ref (${v.field})`, description: v.description }));
        throw new DomainError("INVALID_ARGUMENT", `definition ${JSON.stringify(name)} version ${version} cannot run on this server: ${err.message}`, why);
      }
      throw err;
    }
    remember(this.compiled, key, compiled);
    return compiled;
  }
}

/** The entry of `key`, moved to the end of the map's order: the maps evict least recently used first. */
function recall<V>(map: Map<string, V>, key: string): V | undefined {
  const value = map.get(key);
  if (value !== undefined) {
    map.delete(key);
    map.set(key, value);
  }
  return value;
}

/** Sets `key`, first dropping the least recently used entry of a full map. */
function remember<V>(map: Map<string, V>, key: string, value: V): void {
  map.delete(key);
  if (map.size >= MAX_CACHED) map.delete(map.keys().next().value!);
  map.set(key, value);
}

export function missing(name: string, version: number): DomainError {
  const what = version === 0 ? `definition ${JSON.stringify(name)}` : `definition ${JSON.stringify(name)} version ${version}`;
  return new DomainError("NOT_FOUND", `${what} not found`, [], { name, ...(version ? { version: String(version) } : {}) });
}
