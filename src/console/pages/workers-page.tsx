/** Placeholder while the page is being built (issue 13). */
export function WorkersPage() {
  return (
    <section>
      <h1>Workers</h1>
    </section>
  );
}
