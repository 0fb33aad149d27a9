/** Placeholder while the page is being built (issue 13). */
export function CircuitsPage() {
  return (
    <section>
      <h1>Circuit breakers</h1>
    </section>
  );
}
