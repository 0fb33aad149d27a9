import type { JsonObject } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type { ComponentChildren } from "preact";
import { useEffect, useId, useRef, useState } from "preact/hooks";
import { fieldMessages, toProblem, type Problem } from "../api/problem.js";
import { parseJsonObject } from "../model/json-text.js";
import { useSession } from "../session/session.js";
import { FieldErrors } from "./field-errors.js";
import { JsonEditor } from "./json-editor.js";
import "../saga/history.css";

/** The JSON field of a dialog: its form name is also the server's field path ("output", "config"). */
export interface DialogEditor {
  readonly name: string;
  readonly label: string;
  readonly initial: string;
  readonly hint?: string;
}

/** What the operator confirmed: the reason (trimmed, maybe empty) and the parsed JSON, if any. */
export interface Confirmed {
  readonly reason: string;
  readonly json?: JsonObject;
}

const REASON_LIMIT = 1000;

/**
 * A confirmation for an operator action: what will happen, a reason that goes into the history,
 * an optional JSON editor, and Confirm. It closes only when the call succeeded; otherwise it shows
 * the server's answer where it belongs: field violations under the field they name, anything else
 * in an alert, and a PERMISSION_DENIED with the scope the token lacks. A native modal <dialog>, so
 * focus stays inside and Escape closes it. Its dismiss button says "Close": "Cancel" or "Back"
 * would read (and match, for a test looking a button up by name) like "Cancel saga" or "Roll back".
 */
export function ActionDialog(props: {
  title: string;
  /** Starts with "Confirm", e.g. "Confirm skip". */
  confirmLabel: string;
  danger?: boolean;
  reason: "required" | "optional";
  editor?: DialogEditor;
  /** What will happen, in the saga's own terms. */
  children: ComponentChildren;
  onConfirm: (input: Confirmed) => Promise<unknown>;
  onClose: () => void;
}) {
  const { title, confirmLabel, danger, editor, children, onConfirm, onClose } = props;
  const session = useSession();
  const dialog = useRef<HTMLDialogElement>(null);
  const reasonBox = useRef<HTMLTextAreaElement>(null);
  const titleId = useId();
  const reasonId = useId();
  const [reason, setReason] = useState("");
  const [json, setJson] = useState(editor?.initial ?? "");
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<Problem | undefined>();

  useEffect(() => {
    const el = dialog.current;
    if (!el) return;
    const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;
    el.showModal();
    // The reason first: the editor is prefilled, and the why is what the operator must add.
    reasonBox.current?.focus();
    return () => {
      el.close();
      // Back to the button that opened it, so keyboard users keep their place.
      if (opener?.isConnected) opener.focus();
    };
  }, []);

  const parsed = editor ? parseJsonObject(json) : undefined;
  const reasonMissing = props.reason === "required" && reason.trim() === "";
  const canConfirm = !busy && !reasonMissing && (parsed === undefined || parsed.ok);

  async function submit(e: Event) {
    e.preventDefault();
    if (!canConfirm) return;
    setBusy(true);
    setProblem(undefined);
    try {
      await onConfirm({ reason: reason.trim(), ...(parsed?.ok ? { json: parsed.value } : {}) });
      onClose();
    } catch (err) {
      setProblem(toProblem(err));
      setBusy(false);
    }
  }

  const placed = ["reason", ...(editor ? [editor.name] : [])];
  return (
    <dialog
      ref={dialog}
      class="action-dialog"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <form method="dialog" onSubmit={submit}>
        <h2 id={titleId}>{title}</h2>
        <div class="action-effects">{children}</div>
        {editor && (
          <JsonEditor
            name={editor.name}
            label={editor.label}
            value={json}
            onChange={setJson}
            serverErrors={fieldMessages(problem, editor.name)}
            hint={editor.hint}
            disabled={busy}
          />
        )}
        <div class="action-reason">
          <label for={reasonId}>
            Reason <span class="muted">{props.reason === "required" ? "(required)" : "(optional)"}</span>
          </label>
          <textarea
            ref={reasonBox}
            id={reasonId}
            name="reason"
            rows={2}
            maxLength={REASON_LIMIT}
            required={props.reason === "required"}
            placeholder="Why? It is recorded in the saga's history with this token's name."
            value={reason}
            disabled={busy}
            onInput={(e) => setReason(e.currentTarget.value)}
          />
          <FieldErrors field="reason" messages={fieldMessages(problem, "reason")} />
        </div>
        {problem && <ProblemAlert problem={problem} placed={placed} tokenName={session.tokenName} onSignOut={session.signOut} />}
        <div class="action-buttons">
          <button type="button" onClick={onClose}>
            Close
          </button>
          <button type="submit" class={danger ? "danger" : "primary"} disabled={!canConfirm} aria-busy={busy}>
            {confirmLabel}
          </button>
        </div>
      </form>
    </dialog>
  );
}

/** Whether the server named a field the dialog shows (then the message is there, not here). */
function isPlaced(path: string, placed: readonly string[]): boolean {
  return placed.some((f) => path === f || path.startsWith(`${f}.`) || path.startsWith(`${f}[`));
}

function ProblemAlert(props: { problem: Problem; placed: readonly string[]; tokenName: string; onSignOut: (why?: string) => void }) {
  const { problem, placed, tokenName } = props;
  const elsewhere = [...problem.fields].filter(([path]) => !isPlaced(path, placed));
  // Violations all shown at their fields need no alert of their own.
  if (problem.code === Code.InvalidArgument && problem.fields.size > 0 && elsewhere.length === 0) return null;
  const scope = problem.requiredScope ?? "sagas:execute";
  return (
    <div class="problem" role="alert">
      <strong>{problem.title}</strong>
      {problem.code === Code.PermissionDenied ? (
        <p>
          The token <b>{tokenName}</b> lacks the <code>{scope}</code> scope, so sagad refused. Sign in with a token that has{" "}
          <code>{scope}</code> (or <code>admin</code>) to do this.
        </p>
      ) : (
        <p>{problem.message}</p>
      )}
      {elsewhere.length > 0 && (
        <ul>
          {elsewhere.map(([path, messages]) => (
            <li key={path} data-field-error={path}>
              {path}: {messages.join("; ")}
            </li>
          ))}
        </ul>
      )}
      {problem.code === Code.FailedPrecondition && <p class="muted">The saga changed meanwhile; the page shows it as it is now.</p>}
      {problem.code === Code.Unauthenticated && (
        <button type="button" class="link" onClick={() => props.onSignOut("The token is no longer accepted; sign in again.")}>
          Sign in again
        </button>
      )}
    </div>
  );
}
