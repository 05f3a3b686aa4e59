import type { Store } from '../../../src/store/store.js'
import type { Backend } from '../backends.js'

/** What each part of the contract gets: the shared store of its backend, and fresh places for tests that need an empty database. */
export interface ContractContext {
  readonly backend: Backend
  store(): Store
}
