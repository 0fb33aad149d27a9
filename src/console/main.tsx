import { render } from "preact";
import { Code } from "@connectrpc/connect";
import { createClients } from "./api/clients.js";
import { toProblem } from "./api/problem.js";
import { App } from "./app.js";
import type { SignedIn } from "./pages/sign-in-page.js";
import { forgetToken, storedToken } from "./session/token-storage.js";
import "./styles.css";

/** A token kept from earlier in this tab is checked again before the console trusts it. */
async function restore(): Promise<{ restored: SignedIn | null; notice?: string }> {
  const token = storedToken();
  if (!token) return { restored: null };
  try {
    const me = await createClients(token).sagas.whoAmI({});
    return { restored: { token, tokenName: me.tokenName, scopes: me.scopes } };
  } catch (err) {
    const problem = toProblem(err);
    if (problem.code === Code.Unauthenticated || problem.code === Code.PermissionDenied) {
      forgetToken();
      return { restored: null, notice: "Your token is no longer accepted (revoked?). Sign in again." };
    }
    return { restored: null, notice: `Could not reach sagad: ${problem.message}` };
  }
}

const root = document.getElementById("app")!;
void restore().then((state) => render(<App restored={state.restored} notice={state.notice} />, root));
