interface Slot<V> {
  value: V;
  gen: number;
}

/**
 * A bounded map that evicts the least recently used entry. Map keeps insertion order, so re-inserting on a hit
 * keeps recent entries at the end; that move is skipped for entries already in the newer half (approximate LRU,
 * with no Map mutation on the hot path of a busy session).
 */
export class LRU<K, V> {
  readonly #max: number;
  readonly #map = new Map<K, Slot<V>>();
  #gen = 0;

  constructor(max: number) {
    this.#max = max;
  }

  get size(): number {
    return this.#map.size;
  }

  get(key: K): V | undefined {
    const slot = this.#map.get(key);
    if (slot === undefined) return undefined;
    if (this.#gen - slot.gen > this.#max >> 1) {
      this.#map.delete(key);
      this.#map.set(key, slot);
      slot.gen = ++this.#gen;
    }
    return slot.value;
  }

  set(key: K, value: V): void {
    if (this.#max === 0) return;
    this.#map.delete(key);
    this.#map.set(key, { value, gen: ++this.#gen });
    if (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next();
      if (!oldest.done) this.#map.delete(oldest.value);
    }
  }

  delete(key: K): void {
    this.#map.delete(key);
  }

  clear(): void {
    this.#map.clear();
  }
}
