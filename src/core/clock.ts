/** Milliseconds since the epoch. Pure code takes `now` as an argument; only edges hold a Clock. */
export type Clock = () => number

export const systemClock: Clock = () => Date.now()
