// Reading tenants and roles as people type them (`fastgpu admin tenant create NAME --guarantee 2
// --limit 4 --weight 2 --budget 500`) into validated values whose errors name the field.
import { z } from 'zod';
import { invalid } from '../errors.js';
import { parseMoney } from '../pricing/money.js';
import { parseName, zodToError } from '../pricing/parse.js';
import { parseDuration } from '../quantity.js';
import { ROLES, type Role, type Tenant } from './types.js';

/** The most GPUs a guarantee or limit may name. */
export const MAX_QUOTA_GPUS = 1_000_000;

/**
 * GPUs as people write them (`2`, `0.5`, `"1.5"`, `"500m"` milli-GPU) → milli-GPU.
 * @example parseGpuAmount('1.5', 'guarantee') // 1500
 */
export function parseGpuAmount(input: string | number, field: string): number {
  const help = 'use a number of GPUs such as 2 or 0.5, or milli-GPU such as "500m"';
  let milli: number;
  if (typeof input === 'number') milli = input * 1000;
  else {
    const s = input.trim();
    if (/^\d+(?:\.\d+)?$/.test(s)) milli = Number(s) * 1000;
    else if (/^\d+m$/.test(s)) milli = Number(s.slice(0, -1));
    else throw invalid(field, `cannot read GPUs ${JSON.stringify(input)}; ${help}`);
  }
  if (!Number.isFinite(milli) || milli < 0) throw invalid(field, `GPUs ${JSON.stringify(input)} must not be negative; ${help}`);
  const rounded = Math.round(milli);
  if (Math.abs(rounded - milli) > 1e-6) throw invalid(field, `GPUs ${JSON.stringify(input)} is finer than 0.001 GPU`);
  if (rounded > MAX_QUOTA_GPUS * 1000) throw invalid(field, `GPUs ${JSON.stringify(input)} is more than the ${MAX_QUOTA_GPUS} allowed`);
  return rounded;
}

/** A role name. */
export function parseRole(input: string, field = 'role'): Role {
  const r = input.trim().toLowerCase();
  if (!(ROLES as readonly string[]).includes(r)) throw invalid(field, `unknown role ${JSON.stringify(input)}; use ${ROLES.join(', ')}`);
  return r as Role;
}

const gpuInput = z.union([z.string(), z.number()], { error: 'must be a number of GPUs such as 2 or 0.5' });

export const tenantInputSchema = z.strictObject(
  {
    name: z.string({ error: 'is required: the tenant name' }),
    guarantee: gpuInput.nullish(),
    limit: gpuInput.nullish(),
    weight: z.union([z.number(), z.string()], { error: 'must be a positive number' }).nullish(),
    budget: z.union([z.string(), z.number()], { error: 'must be an amount such as "500.00"' }).nullish(),
    defaultTimeLimit: z
      .union([z.string(), z.number()], { error: 'must be a duration such as "2h" or "90s" (a bare number is seconds)' })
      .nullish()
      .describe('time limit of its tasks that set none, e.g. "2h"; overrides the pool\'s --default-time-limit; null: the pool\'s'),
  },
  { error: 'a tenant must be an object' },
);
export type TenantInput = z.input<typeof tenantInputSchema>;

/**
 * A tenant from its JSON form (or CLI flags); defaults: no guarantee, no limit, weight 1, no
 * budget, the pool's default time limit.
 * @example compileTenant({name: 'research', guarantee: 2, limit: 4, weight: 2, budget: '500', defaultTimeLimit: '2h'})
 */
export function compileTenant(raw: unknown, prefix = 'tenant'): Tenant {
  const r = tenantInputSchema.safeParse(raw);
  if (!r.success) throw zodToError(r.error, prefix);
  const v = r.data;
  const f = (n: string): string => `${prefix}.${n}`;
  const guaranteeMilli = v.guarantee === undefined || v.guarantee === null ? 0 : parseGpuAmount(v.guarantee, f('guarantee'));
  const limitMilli = v.limit === undefined || v.limit === null ? null : parseGpuAmount(v.limit, f('limit'));
  if (limitMilli !== null && limitMilli < guaranteeMilli) {
    throw invalid(f('limit'), `must be at least the guarantee (${guaranteeMilli / 1000} GPU), got ${limitMilli / 1000} GPU`);
  }
  let weight = 1;
  if (v.weight !== undefined && v.weight !== null) {
    weight = typeof v.weight === 'number' ? v.weight : /^\s*\d+(?:\.\d+)?\s*$/.test(v.weight) ? Number(v.weight) : NaN;
    if (!Number.isFinite(weight) || weight <= 0 || weight > 1e6) throw invalid(f('weight'), `must be a positive number up to 1000000, got ${JSON.stringify(v.weight)}`);
  }
  return {
    name: parseName(v.name, f('name')),
    guaranteeMilli,
    limitMilli,
    weight,
    budget: v.budget === undefined || v.budget === null ? null : parseMoney(v.budget, f('budget')),
    defaultTimeLimitMs: v.defaultTimeLimit === undefined || v.defaultTimeLimit === null ? null : parseDuration(v.defaultTimeLimit, f('defaultTimeLimit')),
  };
}

/** The body of a tenant update: any of the fields beside the name; null resets one to its default. */
export const tenantPatchSchema = tenantInputSchema.omit({ name: true });
export type TenantPatch = z.input<typeof tenantPatchSchema>;

/**
 * `existing` with only the fields `raw` names changed (null: back to the default, as create's).
 * Errors name the field as compileTenant's do.
 * @example patchTenant(research, {defaultTimeLimit: '2h'}) // research's quota, weight and budget, and a 2 h default
 */
export function patchTenant(existing: Tenant, raw: unknown, prefix = 'tenant'): Tenant {
  const r = tenantPatchSchema.safeParse(raw);
  if (!r.success) throw zodToError(r.error, prefix);
  const p = r.data;
  const given = compileTenant({ ...p, name: existing.name }, prefix);
  const out: Tenant = {
    ...existing,
    ...(p.guarantee !== undefined ? { guaranteeMilli: given.guaranteeMilli } : {}),
    ...(p.limit !== undefined ? { limitMilli: given.limitMilli } : {}),
    ...(p.weight !== undefined ? { weight: given.weight } : {}),
    ...(p.budget !== undefined ? { budget: given.budget } : {}),
    ...(p.defaultTimeLimit !== undefined ? { defaultTimeLimitMs: given.defaultTimeLimitMs ?? null } : {}),
  };
  if (out.limitMilli !== null && out.limitMilli < out.guaranteeMilli) {
    throw invalid(`${prefix}.${p.limit !== undefined ? 'limit' : 'guarantee'}`, `the limit (${out.limitMilli / 1000} GPU) must be at least the guarantee (${out.guaranteeMilli / 1000} GPU)`);
  }
  return out;
}
