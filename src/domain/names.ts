/**
 * The naming rules of the API (saga.proto), in one place so validation, templates and the API layer
 * agree on what a step name or var key is.
 */

/** Saga names: 1 to 200 of [A-Za-z0-9_.:/-], starting with a letter or digit. */
export const SAGA_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,199}$/;

/** Step names: 1 to 64 of [A-Za-z0-9_-], starting with a letter or digit. */
export const STEP_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

/**
 * Action names: 1 to 128 of [A-Za-z0-9_.:-], starting with a letter or digit. A name that nothing
 * in sagad runs is a worker action: its steps wait for a worker that serves it.
 */
export const ACTION_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/;
export const ACTION_NAME_RULE =
  "an action is built in, embedded in this server, or served by workers, and its name is 1 to 128 of [A-Za-z0-9_.:-] starting with a letter or digit";

/** Var keys: identifiers, so `{{vars.NAME}}` can always spell them; at most 128 characters. */
export const VAR_KEY_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** Label keys: 1 to 63 of [A-Za-z0-9_./-]. */
export const LABEL_KEY_PATTERN = /^[A-Za-z0-9_./-]{1,63}$/;
