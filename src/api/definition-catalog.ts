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

/** Compiled versions kept per replica; a version is immutable, so an entry never goes stale. */
const MAX_CACHED = 1000;

/**
 * Definitions as CreateSaga and RenderDefinition need them: the version resolved and its state read
 * on every call (one indexed lookup: a DISABLED version stops new sagas at once, on every replica),
 * the compiled spec (validated steps, compiled vars schema) cached by (name, version).
 */
export class DefinitionCatalog {
  private readonly compiled = new Map<string, CompiledDefinition>();

  constructor(
    private readonly store: DefinitionStore,
    private readonly limits: ValidationLimits,
    private readonly isKnownAction: (name: string) => boolean,
  ) {}

  /**
   * @throws DomainError NOT_FOUND for an unknown name or version; FAILED_PRECONDITION for a DISABLED
   *   version; INVALID_ARGUMENT if this replica cannot run it (an action it does not have).
   */
  async resolve(name: string, version: number): Promise<ResolvedDefinition> {
    const head = await this.store.head(name, version);
    if (head === null) throw missing(name, version);
    if (head.state === "DISABLED") {
      throw failedPrecondition(
        `definition ${JSON.stringify(name)} version ${head.version} is DISABLED; activate it or start another version`,
        "DISABLED",
      );
    }
    return { version: head.version, state: head.state, compiled: await this.compile(name, head.version) };
  }

  private async compile(name: string, version: number): Promise<CompiledDefinition> {
    const key = `${version}:${name}`;
    const cached = this.compiled.get(key);
    if (cached) return cached;
    const record = await this.store.get(name, version);
    if (record === null) throw missing(name, version);
    let compiled: CompiledDefinition;
    try {
      compiled = validateDefinitionSpec(rawDefinitionSpec(specFromJson(record.spec)), this.limits, this.isKnownAction);
    } catch (err) {
      // Registered elsewhere (another replica's actions, other limits): say why this one refuses.
      if (err instanceof DomainError && err.reason === "INVALID_ARGUMENT") {
        const why = err.violations.map((v) => ({ field: `definition_ref (${v.field})`, description: v.description }));
        throw new DomainError("INVALID_ARGUMENT", `definition ${JSON.stringify(name)} version ${version} cannot run on this server: ${err.message}`, why);
      }
      throw err;
    }
    if (this.compiled.size >= MAX_CACHED) this.compiled.delete(this.compiled.keys().next().value!);
    this.compiled.set(key, compiled);
    return compiled;
  }
}

export function missing(name: string, version: number): DomainError {
  const what = version === 0 ? `definition ${JSON.stringify(name)}` : `definition ${JSON.stringify(name)} version ${version}`;
  return new DomainError("NOT_FOUND", `${what} not found`, [], { name, ...(version ? { version: String(version) } : {}) });
}
