// Types for highs-solve.mjs (plain JavaScript, so that the solver thread can run it).
import type { Highs } from 'highs';
import type { MilpOutcome, MilpProblem } from '../core/placement/lp-solver.js';

export function loadHighs(): Promise<Highs>;
export function solveMilp(h: Highs, p: MilpProblem, timeLimitMs: number, now: () => number): MilpOutcome;
export function warmUp(h: Highs, now: () => number): void;
export function knapsack(n: number): MilpProblem;
