import type { JsonObject } from "./types.js";

/** Whether new sagas may start from a definition version; running sagas never depend on it. */
export type DefinitionState = "ACTIVE" | "DEPRECATED" | "DISABLED";
export const DEFINITION_STATES: readonly DefinitionState[] = ["ACTIVE", "DEPRECATED", "DISABLED"];

/**
 * One registered definition version as stored. `spec` is the DefinitionSpec in proto JSON exactly
 * as registered (what GetDefinition returns); everything else is derived or bookkeeping. Only
 * `state` and `updatedAt` ever change.
 */
export interface DefinitionRecord {
  name: string;
  version: number;
  spec: JsonObject;
  specHash: string;
  state: DefinitionState;
  labels: Record<string, string>;
  stepCount: number;
  createdAt: number;
  createdBy: string;
  updatedAt: number;
}
