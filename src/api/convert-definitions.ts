import { create, fromJson, toJson, type JsonValue } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { DefinitionRecord, DefinitionState as DomainState } from "../domain/definition-record.js";
import type { StepSpec as DomainStepSpec } from "../domain/types.js";
import type { RawDefinitionSpec } from "../domain/validate-definition.js";
import {
  DefinitionSchema,
  DefinitionSpecSchema,
  DefinitionState,
  type Definition,
  type DefinitionSpec,
} from "../gen/saga/v1/definition_pb.js";
import { CompensationSchema, StepSpecSchema, type StepSpec } from "../gen/saga/v1/saga_pb.js";
import { failurePolicyName, rawStep, retryPolicyToProto } from "./convert.js";

/**
 * Protobuf ⇄ domain for definitions (convert.ts does sagas). The stored spec is the DefinitionSpec
 * in proto JSON, so GetDefinition returns exactly what was registered and the hash of its canonical
 * form identifies it.
 */
export function rawDefinitionSpec(spec: DefinitionSpec): RawDefinitionSpec {
  return {
    name: spec.name,
    description: spec.description,
    labels: { ...spec.labels },
    failurePolicy: failurePolicyName(spec.failurePolicy),
    maxRetries: spec.maxRetries,
    varsSchema: spec.varsSchema ?? null,
    steps: spec.steps.map(rawStep),
  };
}

export function specToJson(spec: DefinitionSpec): Record<string, JsonValue> {
  return toJson(DefinitionSpecSchema, spec) as Record<string, JsonValue>;
}

export function specFromJson(json: unknown): DefinitionSpec {
  return fromJson(DefinitionSpecSchema, json as JsonValue);
}

/** Domain state name → enum, and back (null for UNSPECIFIED, undefined for an unknown number). */
export function definitionStateToProto(state: DomainState): DefinitionState {
  return DefinitionState[state];
}

export function definitionStateFromProto(value: DefinitionState): DomainState | null | undefined {
  if (value === DefinitionState.UNSPECIFIED) return null;
  return DefinitionState[value] as DomainState | undefined;
}

/** A stored version for the wire; lists (`withSpec: false`) carry the spec without steps or schema. */
export function definitionToProto(record: DefinitionRecord, withSpec = true): Definition {
  const spec = specFromJson(record.spec);
  if (!withSpec) {
    spec.steps = [];
    spec.varsSchema = undefined;
  }
  return create(DefinitionSchema, {
    spec,
    version: record.version,
    state: definitionStateToProto(record.state),
    specHash: record.specHash,
    createTime: timestampFromMs(record.createdAt),
    createdBy: record.createdBy,
    updateTime: timestampFromMs(record.updatedAt),
    stepCount: record.stepCount,
  });
}

/** A step of a rendered plan (RenderDefinition): the spec with every default filled in. */
export function stepSpecToProto(step: DomainStepSpec): StepSpec {
  return create(StepSpecSchema, {
    name: step.name,
    action: step.action,
    config: step.config,
    dependsOn: step.dependsOn,
    compensate: step.compensate
      ? create(CompensationSchema, {
          action: step.compensate.action,
          config: step.compensate.config,
          retryPolicy: retryPolicyToProto(step.compensate.retryPolicy),
        })
      : undefined,
    retryPolicy: retryPolicyToProto(step.retryPolicy),
  });
}
