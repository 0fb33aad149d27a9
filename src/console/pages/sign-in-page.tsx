import { useState } from "preact/hooks";
import { Code } from "@connectrpc/connect";
import { createClients } from "../api/clients.js";
import { toProblem } from "../api/problem.js";

/** What signing in found out about a token. */
export interface SignedIn {
  readonly token: string;
  readonly tokenName: string;
  readonly scopes: readonly string[];
}

/**
 * Asks for an API token and checks it with WhoAmI before keeping it. The console has no
 * privileges of its own: everything it shows, the token was allowed to read.
 */
export function SignInPage(props: { onSignedIn: (session: SignedIn) => void; notice?: string }) {
  const [token, setToken] = useState("");
  const [error, setError] = useState<string | null>(props.notice ?? null);
  const [busy, setBusy] = useState(false);

  async function submit(event: Event) {
    event.preventDefault();
    const trimmed = token.trim();
    if (!trimmed) return setError("Paste an API token (sagad_…). Make one with: sagad token create --name you --scope sagas:read");
    setBusy(true);
    setError(null);
    try {
      const me = await createClients(trimmed).sagas.whoAmI({});
      props.onSignedIn({ token: trimmed, tokenName: me.tokenName, scopes: me.scopes });
    } catch (err) {
      const problem = toProblem(err);
      setError(
        problem.code === Code.Unauthenticated
          ? "sagad does not know this token (mistyped, or revoked)."
          : problem.code === Code.PermissionDenied
            ? "This token cannot read sagas. The console needs a token with sagas:read (or admin)."
            : `${problem.title}: ${problem.message}`,
      );
    } finally {
      setBusy(false);
    }
  }

  return (
    <main class="sign-in">
      <h1>sagad console</h1>
      <form onSubmit={submit} aria-label="Sign in">
        <label for="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autocomplete="off"
          spellcheck={false}
          placeholder="sagad_…"
          value={token}
          onInput={(e) => setToken(e.currentTarget.value)}
        />
        <button type="submit" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
        <p class="hint">
          The token stays in this tab (sessionStorage) and is sent only to this sagad, in the Authorization header. A
          token with only <code>sagas:read</code> can look but not act.
        </p>
      </form>
    </main>
  );
}
