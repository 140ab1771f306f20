/**
 * A small seeded random generator (xoshiro128**) with a serialisable state,
 * plus standard normals (Box–Muller, the spare value is part of the state).
 */
export interface RngState {
  s: [number, number, number, number];
  spare: number | null;
}

function splitmix32(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Rng {
  private s: Uint32Array;
  private spare: number | null = null;

  constructor(seed: number | RngState) {
    this.s = new Uint32Array(4);
    if (typeof seed === 'number') {
      // Mix the high part of large seeds in too.
      const sm = splitmix32((seed >>> 0) ^ Math.floor(seed / 4294967296));
      for (let i = 0; i < 4; i++) this.s[i] = sm();
      if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
    } else {
      this.setState(seed);
    }
  }

  /** Next uint32. */
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  random(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Standard normal. */
  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    let u = 0;
    while (u <= 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * n standard normals as float32: the same values as n calls of normal()
   * (times scale), state included. Sampling draws 131 k normals per batch
   * of 256 images: 5.8 ms of CPU through normal(), 3.7 ms this way, of which
   * ~2.7 ms are Math.log/sqrt/cos/sin (loaded machine; docs/PERFORMANCE.md
   * "Sampling path (perfsample)"). A native generator would be faster but could
   * not promise the same values: V8's and the C library's log/sin/cos differ
   * in the last bit for some inputs.
   */
  normals(n: number, scale = 1): Float32Array {
    const out = new Float32Array(n);
    let i = 0;
    if (n > 0 && this.spare !== null) {
      out[i++] = this.spare * scale;
      this.spare = null;
    }
    // The generator's state in locals for the whole batch: nextU32 and random()
    // written out (through the Uint32Array and method calls: 5.3 ms, not 3.7)
    const st = this.s;
    let s0 = st[0]! | 0,
      s1 = st[1]! | 0,
      s2 = st[2]! | 0,
      s3 = st[3]! | 0;
    while (i < n) {
      // words 0, 1 → u (both drawn again while u = 0), words 2, 3 → v, as normal()
      let u = 0;
      let v = 0;
      let hi = 0;
      for (let k = 0; k < 4; k++) {
        const x = Math.imul(s1, 5);
        const word = Math.imul((x << 7) | (x >>> 25), 9) >>> 0;
        const t = s1 << 9;
        s2 ^= s0;
        s3 ^= s1;
        s1 ^= s2;
        s0 ^= s3;
        s2 ^= t;
        s3 = (s3 << 11) | (s3 >>> 21);
        if ((k & 1) === 0) hi = (word >>> 5) * 67108864;
        else if (k === 1) {
          u = (hi + (word >>> 6)) / 9007199254740992;
          if (u <= 0) k = -1; // redraw u: the loop goes on with k = 0
        } else v = (hi + (word >>> 6)) / 9007199254740992;
      }
      const r = Math.sqrt(-2 * Math.log(u));
      out[i++] = r * Math.cos(2 * Math.PI * v) * scale;
      const spare = r * Math.sin(2 * Math.PI * v);
      if (i < n) out[i++] = spare * scale;
      else this.spare = spare;
    }
    st[0] = s0; // Uint32Array: stores the same 32 bits
    st[1] = s1;
    st[2] = s2;
    st[3] = s3;
    return out;
  }

  /** A bound `() => number` uniform generator (for sampleCondition). */
  uniform(): () => number {
    return () => this.random();
  }

  getState(): RngState {
    return { s: [this.s[0], this.s[1], this.s[2], this.s[3]], spare: this.spare };
  }

  setState(state: RngState): void {
    for (let i = 0; i < 4; i++) this.s[i] = state.s[i] >>> 0;
    this.spare = state.spare;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Derives an independent seed for a named stream (e.g. 'init', 'preview'). */
export function deriveSeed(seed: number, stream: string): number {
  let h = 2166136261 ^ (seed >>> 0);
  for (let i = 0; i < stream.length; i++) h = Math.imul(h ^ stream.charCodeAt(i), 16777619) >>> 0;
  h = Math.imul(h ^ Math.floor(seed / 4294967296), 16777619) >>> 0;
  return h >>> 0;
}
