/**
 * A lane for async work that runs one piece at a time, in the order asked; a piece that fails
 * does not hold up the next.
 */
export function oneAtATime(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve()
  return <T>(work: () => Promise<T>) => {
    const run = tail.then(work, work)
    tail = run.catch(() => undefined)
    return run
  }
}
