/** Placeholder while the page is being built (issue 13). */
export function DefinitionsPage() {
  return (
    <section>
      <h1>Definitions</h1>
    </section>
  );
}
