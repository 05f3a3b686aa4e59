export function App() {
  return <main><h1>Postern console</h1></main>
}
