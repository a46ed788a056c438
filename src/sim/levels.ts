// Sampling at whole percentages of arrived demand, as the published analysis scripts do: each pod's
// record is binned by round(arrived %) (half to even); a level's value is the mean of its records,
// or of the records of the levels beside it when it has none.

/** Python's round(x) for floats: half to even. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  if (Math.abs(x - Math.trunc(x)) === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

export class LevelSampler {
  private readonly sums: Float64Array;
  private readonly counts: Uint32Array;
  constructor(
    readonly maxLevel: number,
    private readonly series: number,
  ) {
    this.sums = new Float64Array((maxLevel + 1) * series);
    this.counts = new Uint32Array(maxLevel + 1);
  }

  /** Adds one record: arrived demand in % of capacity and one value per series. */
  add(arrivedPct: number, values: readonly number[]): void {
    const l = roundHalfEven(arrivedPct);
    if (l < 0 || l > this.maxLevel) return;
    this.counts[l]!++;
    for (let s = 0; s < this.series; s++) this.sums[l * this.series + s]! += values[s]!;
  }

  /** Per level 0..maxLevel, the mean of series `s` (null where no record is near). */
  values(s: number): (number | null)[] {
    const out: (number | null)[] = [];
    for (let l = 0; l <= this.maxLevel; l++) {
      let sum = this.sums[l * this.series + s]!;
      let n = this.counts[l]!;
      if (n === 0) {
        for (const m of [l - 1, l + 1]) {
          if (m < 0 || m > this.maxLevel) continue;
          sum += this.sums[m * this.series + s]!;
          n += this.counts[m]!;
        }
      }
      out.push(n === 0 ? null : sum / n);
    }
    return out;
  }
}
