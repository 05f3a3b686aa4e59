import { afterEach } from 'vitest'
import type { Store } from '../../../src/store/store.js'
import type { Backend, Place } from '../backends.js'

/** What each part of the contract gets: the shared store of its backend, and fresh places for tests that need an empty database. */
export interface ContractContext {
  readonly backend: Backend
  store(): Store
}

/**
 * Fresh, empty places for the tests of one part of the contract, each cleaned up after its test;
 * `check` runs on every place first (e.g. that nothing logged an error).
 */
export function freshPlaces(c: ContractContext, check?: (place: Place) => void): () => Promise<Place> {
  let places: Place[] = []
  afterEach(async () => {
    if (check) places.forEach(check)
    await Promise.all(places.map((p) => p.cleanup()))
    places = []
  })
  return async () => {
    const place = await c.backend.fresh()
    places.push(place)
    return place
  }
}
