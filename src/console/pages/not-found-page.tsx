import { PATHS } from "../paths.js";

export function NotFoundPage() {
  return (
    <section>
      <h1>No such page</h1>
      <p>
        Back to <a href={PATHS.sagas}>the sagas</a>.
      </p>
    </section>
  );
}
