/** Placeholder while the page is being built (issue 13). */
export function SagasPage() {
  return (
    <section>
      <h1>Sagas</h1>
    </section>
  );
}
