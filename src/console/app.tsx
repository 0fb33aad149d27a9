import { useMemo, useState } from "preact/hooks";
import { LocationProvider, Route, Router } from "preact-iso";
import { createClients } from "./api/clients.js";
import { CircuitsPage } from "./pages/circuits-page.js";
import { DefinitionsPage } from "./pages/definitions-page.js";
import { NotFoundPage } from "./pages/not-found-page.js";
import { SagaPage } from "./pages/saga-page.js";
import { SagasPage } from "./pages/sagas-page.js";
import { SignInPage, type SignedIn } from "./pages/sign-in-page.js";
import { WorkersPage } from "./pages/workers-page.js";
import { PATHS } from "./paths.js";
import { allows, SessionContext, type Session } from "./session/session.js";
import { forgetToken, storeToken } from "./session/token-storage.js";


/** The console: a sign-in gate, then a shell with navigation and one page per route. */
export function App(props: { restored: SignedIn | null; notice?: string }) {
  const [signedIn, setSignedIn] = useState<SignedIn | null>(props.restored);
  const [notice, setNotice] = useState<string | undefined>(props.notice);

  const session = useMemo<Session | null>(() => {
    if (!signedIn) return null;
    return {
      tokenName: signedIn.tokenName,
      scopes: signedIn.scopes,
      clients: createClients(signedIn.token),
      signOut: (why?: string) => {
        forgetToken();
        setNotice(why);
        setSignedIn(null);
      },
    };
  }, [signedIn]);

  if (!session) {
    return (
      <SignInPage
        notice={notice}
        onSignedIn={(s) => {
          storeToken(s.token);
          setNotice(undefined);
          setSignedIn(s);
        }}
      />
    );
  }

  const readOnly = !allows(session.scopes, "sagas:execute");
  return (
    <SessionContext.Provider value={session}>
      <LocationProvider>
        <header class="top">
          <a class="brand" href={PATHS.sagas}>
            sagad
          </a>
          <nav aria-label="Main">
            <a href={PATHS.sagas}>Sagas</a>
            <a href={PATHS.definitions}>Definitions</a>
            <a href={PATHS.workers}>Workers</a>
            <a href={PATHS.circuits}>Circuits</a>
          </nav>
          <span class="who" data-testid="who">
            {session.tokenName}
            {readOnly && (
              <span class="read-only" title="This token has no sagas:execute scope: it can look, not act.">
                read-only
              </span>
            )}
          </span>
          <button type="button" class="link" onClick={() => session.signOut()}>
            Sign out
          </button>
        </header>
        <main class="page">
          <Router>
            <Route path="/console/" component={SagasPage} />
            <Route path="/console/sagas/:id" component={SagaPage} />
            <Route path="/console/definitions" component={DefinitionsPage} />
            <Route path="/console/definitions/:name" component={DefinitionsPage} />
            <Route path="/console/workers" component={WorkersPage} />
            <Route path="/console/circuits" component={CircuitsPage} />
            <Route default component={NotFoundPage} />
          </Router>
        </main>
      </LocationProvider>
    </SessionContext.Provider>
  );
}
