/**
 * A bounded map with insertion-order eviction: when full, the oldest tenth goes. Cheaper than an
 * LRU on the hot path and good enough where entries also expire on their own.
 */
export class BoundedCache<K, V> {
  private readonly map = new Map<K, V>()

  constructor(private readonly max: number) {}

  get(key: K): V | undefined {
    return this.map.get(key)
  }

  set(key: K, value: V): void {
    if (this.map.size >= this.max && !this.map.has(key)) {
      let drop = Math.max(1, Math.floor(this.max / 10))
      for (const k of this.map.keys()) {
        this.map.delete(k)
        if (--drop === 0) break
      }
    }
    this.map.set(key, value)
  }

  delete(key: K): void {
    this.map.delete(key)
  }

  /** Deletes every entry `drop` selects (a full scan: for rare events, not the hot path). */
  deleteWhere(drop: (value: V, key: K) => boolean): void {
    for (const [k, v] of this.map) if (drop(v, k)) this.map.delete(k)
  }

  clear(): void {
    this.map.clear()
  }

  get size(): number {
    return this.map.size
  }
}
