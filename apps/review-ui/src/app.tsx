/** Placeholder until the review-UI issue: the build pipeline is real, the screens are not yet. */
export function App() {
  return (
    <main style={{ fontFamily: 'system-ui, sans-serif', maxWidth: 640, margin: '4rem auto' }}>
      <h1>Loupe</h1>
      <p>
        The review UI is not built yet. The collector API is documented at <a href="/docs">/docs</a>
        .
      </p>
    </main>
  );
}
