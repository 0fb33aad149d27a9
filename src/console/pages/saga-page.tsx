/** Placeholder while the page is being built (issue 13). */
export function SagaPage() {
  return (
    <section>
      <h1>Saga</h1>
    </section>
  );
}
