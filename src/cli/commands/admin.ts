// `fastgpu admin tenant create|ls` and `fastgpu admin token create|ls|revoke`: tenants and tokens
// (needs an admin token). Other admin subcommands (prices, promotions) live in their own files
// and attach to the same group through `adminCommand(program)`, so no file owns them all.
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { FastGpuError } from '../../core/errors.js';
import { compileTenant, parseRole } from '../../core/tenancy/index.js';
import type { TenantInput, TenantUpdate, TenantView, TokenRole, TokenView } from '../../sdk/admin.js';
import { fastgpuHome } from '../../sdk/config.js';
import { systemClock } from '../../util/clock.js';
import { contextOf } from '../context.js';
import { nonEmpty } from '../daemon.js';
import { UsageError, clientFor, outputFlag, withConnection, withOutput } from '../flags.js';
import { dash, table } from '../format.js';

/**
 * The `admin` command group, created on first use: every admin command file attaches its
 * subcommands here, in any order.
 * @example adminCommand(program).command('price').description('…')
 */
export function adminCommand(program: Command): Command {
  const found = program.commands.find((c) => c.name() === 'admin');
  if (found) return found;
  return program.command('admin').description('administration (admin token): tenants, tokens, prices, promotions');
}

export interface RawTenantCreate {
  guarantee?: string;
  limit?: string;
  weight?: string;
  budget?: string;
  defaultTimeLimit?: string;
}

const DEFAULT_TIME_LIMIT_FLAG = '--default-time-limit <duration>';
const DEFAULT_TIME_LIMIT_TEXT = "time limit of its tasks that set none, e.g. 2h (overrides the pool's --default-time-limit; a task's --time-limit overrides both)";

export function register(program: Command): void {
  const admin = adminCommand(program);
  const tenant = admin.command('tenant').description('tenants: teams sharing the pool, with a guarantee, a limit, a weight, a budget and a default time limit');

  withOutput(withConnection(tenant.command('create')))
    .description('create a tenant, or replace every setting of an existing one (what is not given goes back to its default; `update` changes only what is given)')
    .argument('<name>', 'tenant name (A-Z a-z 0-9 . _ -)')
    .option('--guarantee <gpus>', 'GPUs it is guaranteed and may always reclaim, e.g. 2 or 0.5 (default 0)')
    .option('--limit <gpus>', 'GPUs it may never exceed (default: no limit)')
    .option('--weight <w>', 'fair-share weight (default 1)')
    .option('--budget <amount>', 'spend allowed, e.g. 500 or 500.00 (default: unlimited)')
    .option(DEFAULT_TIME_LIMIT_FLAG, `${DEFAULT_TIME_LIMIT_TEXT} (default: the pool's)`)
    .action(async (name: string, raw: RawTenantCreate & { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const t = await clientFor(cmd).admin.tenants.create(compileTenantCreate(name, raw));
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(t, null, 2)}\n` : tenantTable([t]));
    });

  withOutput(withConnection(tenant.command('update')))
    .description('change some settings of a tenant and keep the rest; "none" resets --limit, --budget or --default-time-limit')
    .argument('<name>', 'tenant name')
    .option('--guarantee <gpus>', 'GPUs it is guaranteed and may always reclaim, e.g. 2 or 0.5')
    .option('--limit <gpus>', 'GPUs it may never exceed, or none')
    .option('--weight <w>', 'fair-share weight')
    .option('--budget <amount>', 'spend allowed, e.g. 500.00, or none')
    .option(DEFAULT_TIME_LIMIT_FLAG, `${DEFAULT_TIME_LIMIT_TEXT}, or none for the pool's`)
    .action(async (name: string, raw: RawTenantCreate & { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const changes = compileTenantUpdate(raw);
      const t = await clientFor(cmd).admin.tenants.update(name.trim(), changes);
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(t, null, 2)}\n` : tenantTable([t]));
    });

  withOutput(withConnection(tenant.command('ls')))
    .description('list tenants')
    .action(async (raw: { output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const list = await clientFor(cmd).admin.tenants.list();
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(list, null, 2)}\n` : tenantTable(list));
    });

  withConnection(tenant.command('rm'))
    .description('delete tenants with no unfinished tasks and no vGPUs; their tokens are revoked, their history kept')
    .argument('<names...>', 'tenant names')
    .action(async (names: string[], _raw: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = clientFor(cmd);
      for (const name of names) {
        const r = await client.admin.tenants.delete(name.trim());
        ctx.stdout.write(`${r.name} deleted; ${r.revokedTokens} token${r.revokedTokens === 1 ? '' : 's'} revoked\n`);
      }
    });

  const token = admin.command('token').description('API tokens: create, ls, revoke');

  withOutput(withConnection(token.command('create')))
    .description('make a token for a tenant; prints the secret alone on the last line (shown once)')
    .requiredOption('--tenant <name>', 'the tenant it acts for')
    .option('--role <role>', 'admin, member, viewer (or agent, for `fastgpu agent`; metrics, for a Prometheus scraper: GET /metrics only)', 'member')
    .option('--name <name>', 'a label for people, e.g. who holds it')
    .action(async (raw: { tenant: string; role: string; name?: string; output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const role = roleFlag(raw.role);
      const t = await clientFor(cmd).admin.tokens.create({ tenant: raw.tenant.trim(), role, ...(raw.name !== undefined ? { name: raw.name } : {}) });
      if (output === 'json') ctx.stdout.write(`${JSON.stringify(t, null, 2)}\n`);
      // Scripts take the last line: `TOKEN=$(fastgpu admin token create --tenant a | tail -1)`.
      else ctx.stdout.write(`token ${t.id} for tenant ${t.tenant} (${t.role}); the secret is shown once:\n${t.token}\n`);
    });

  withOutput(withConnection(token.command('ls')))
    .description('list tokens (never their secrets)')
    .option('--tenant <name>', 'only this tenant’s')
    .action(async (raw: { tenant?: string; output?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const output = outputFlag(raw.output);
      const list = await clientFor(cmd).admin.tokens.list(raw.tenant !== undefined ? { tenant: raw.tenant } : {});
      ctx.stdout.write(output === 'json' ? `${JSON.stringify(list, null, 2)}\n` : tokenTable(list));
    });

  withConnection(token.command('revoke'))
    .description('revoke tokens; refused from the very next request (never the last live admin token)')
    .argument('<ids...>', 'token ids (from `fastgpu admin token ls`)')
    .option('--force', 'also revoke the token this command runs with')
    .action(async (ids: string[], raw: { force?: boolean }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = clientFor(cmd);
      for (const id of ids) {
        const t = await client.admin.tokens.revoke(id, { force: raw.force === true });
        ctx.stdout.write(`${t.id} revoked\n`);
      }
    });

  token
    .command('recover')
    .description('on the server host: mint a new admin token straight into the data dir’s store (server running or not); prints the secret alone on the last line')
    .option('--data-dir <dir>', 'the server’s data dir (default: $FASTGPU_HOME/data)')
    .action(async (raw: { dataDir?: string }, cmd: Command) => {
      const ctx = contextOf(cmd);
      const dataDir = resolve(ctx.cwd, raw.dataDir !== undefined ? nonEmpty(raw.dataDir, '--data-dir') : join(fastgpuHome(ctx.env), 'data'));
      const { recoverAdminToken } = await import('../../server/recover.js');
      let r;
      try {
        r = await recoverAdminToken(dataDir, systemClock);
      } catch (e) {
        if (e instanceof FastGpuError) throw new UsageError(e.message);
        throw e;
      }
      ctx.stdout.write(`admin token ${r.id} (tenant default) written to the store and to ${r.file}; the secret is shown once:\n${r.secret}\n`);
    });
}

/** Flags → the request body, checked here with the server's own parser so mistakes name the flag. */
export function compileTenantCreate(name: string, raw: RawTenantCreate): TenantInput {
  const input: TenantInput = { name: name.trim() };
  if (raw.guarantee !== undefined) input.guarantee = raw.guarantee.trim();
  if (raw.limit !== undefined) input.limit = raw.limit.trim();
  if (raw.weight !== undefined) input.weight = raw.weight.trim();
  if (raw.budget !== undefined) input.budget = raw.budget.trim();
  if (raw.defaultTimeLimit !== undefined) input.defaultTimeLimit = raw.defaultTimeLimit.trim();
  try {
    compileTenant(input, '');
  } catch (e) {
    if (e instanceof FastGpuError) throw new UsageError(flagMessage(e));
    throw e;
  }
  return input;
}

/** `tenant update` flags → the changes, checked here; "none" (null) resets the fields that have no value by default. */
export function compileTenantUpdate(raw: RawTenantCreate): TenantUpdate {
  const changes: TenantUpdate = {};
  const resettable = new Set(['limit', 'budget', 'defaultTimeLimit']);
  for (const k of ['guarantee', 'limit', 'weight', 'budget', 'defaultTimeLimit'] as const) {
    const v = raw[k]?.trim();
    if (v === undefined) continue;
    if (v.toLowerCase() === 'none') {
      if (!resettable.has(k)) throw new UsageError(`--${flagName(k)}: "none" resets --limit, --budget and --default-time-limit only; give a value`);
      changes[k] = null;
    } else changes[k] = v;
  }
  if (Object.keys(changes).length === 0) throw new UsageError('nothing to change: give --guarantee, --limit, --weight, --budget or --default-time-limit');
  try {
    compileTenant({ name: 'x', ...changes }, '');
  } catch (e) {
    if (e instanceof FastGpuError) throw new UsageError(flagMessage(e));
    throw e;
  }
  return changes;
}

const flagName = (field: string): string => field.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

function roleFlag(raw: string): TokenRole {
  const special = raw.trim().toLowerCase();
  if (special === 'agent' || special === 'metrics') return special;
  try {
    return parseRole(raw, '--role');
  } catch (e) {
    if (e instanceof FastGpuError) throw new UsageError(`${e.message}, agent, metrics`);
    throw e;
  }
}

/** `.guarantee: …` (the core's field path with an empty prefix) → `--guarantee: …`. */
function flagMessage(e: FastGpuError): string {
  return e.message.replace(/^\.?(name|guarantee|limit|weight|budget|defaultTimeLimit):/, (_m, f: string) => (f === 'name' ? 'NAME:' : `--${flagName(f)}:`));
}

const gpus = (n: number | null): string => (n === null ? '-' : String(n));

export function tenantTable(list: readonly TenantView[]): string {
  return table(
    ['NAME', 'GUARANTEE', 'LIMIT', 'WEIGHT', 'BUDGET', 'DEFAULT TIME LIMIT'],
    list.map((t) => [t.name, gpus(t.guarantee), gpus(t.limit), String(t.weight), dash(t.budget), t.defaultTimeLimit ?? "- (the pool's)"]),
  );
}

export function tokenTable(list: readonly TokenView[]): string {
  return table(
    ['ID', 'TENANT', 'ROLE', 'NAME', 'CREATED', 'REVOKED'],
    list.map((t) => [t.id, t.tenant, t.role, dash(t.name), t.createdAt, dash(t.revokedAt)]),
  );
}
