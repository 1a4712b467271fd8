/**
 * A 128-bit running hash of numbers and strings, in plain JavaScript: loading node:crypto
 * alone would cost an answer from a stamp a tenth of its time, and a stamp needs only to tell
 * "the same" from "changed", with no adversary. Two 32-bit lanes per seed, each step an xor
 * and a multiplication by an odd constant: both bijections, so inputs that differ in one word
 * always reach the final mixing in different states.
 */
export class Mixer {
  private a = 0xdeadbeef ^ 1;
  private b = 0x41c6ce57 ^ 1;
  private c = 0xdeadbeef ^ 2;
  private d = 0x41c6ce57 ^ 2;
  private readonly f64 = new Float64Array(1);
  private readonly u32 = new Uint32Array(this.f64.buffer);

  word(w: number): void {
    this.a = Math.imul(this.a ^ w, 2654435761);
    this.b = Math.imul(this.b ^ w, 1597334677);
    this.c = Math.imul(this.c ^ w, 2246822519);
    this.d = Math.imul(this.d ^ w, 3266489917);
  }

  /**
   * Any double, exactly: its two 32-bit halves, as two word() calls would mix them. Written out
   * because a stamp's check mixes ~20,000 numbers in a process too short-lived for V8 to
   * optimise: interpreted, each call and field access counts.
   */
  number(n: number): void {
    this.f64[0] = n;
    const lo = this.u32[0];
    const hi = this.u32[1];
    this.a = Math.imul(Math.imul(this.a ^ lo, 2654435761) ^ hi, 2654435761);
    this.b = Math.imul(Math.imul(this.b ^ lo, 1597334677) ^ hi, 1597334677);
    this.c = Math.imul(Math.imul(this.c ^ lo, 2246822519) ^ hi, 2246822519);
    this.d = Math.imul(Math.imul(this.d ^ lo, 3266489917) ^ hi, 3266489917);
  }

  text(s: string): void {
    this.number(s.length);
    for (let i = 0; i < s.length; i++) this.word(s.charCodeAt(i));
  }

  digest(): string {
    const fin = (x: number, y: number) => {
      const h1 = Math.imul(x ^ (x >>> 16), 2246822507) ^ Math.imul(y ^ (y >>> 13), 3266489909);
      const h2 = Math.imul(y ^ (y >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
      return (h1 >>> 0).toString(16).padStart(8, "0") + (h2 >>> 0).toString(16).padStart(8, "0");
    };
    return fin(this.a, this.b) + fin(this.c, this.d);
  }
}
