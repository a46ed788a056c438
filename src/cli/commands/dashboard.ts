// `fastgpu dashboard`: prints a fresh login link for the web dashboard (single use, valid for
// 10 minutes) for the token the CLI uses — the one `fastgpu up` saved, by default. Works while
// `up` runs, when the link it printed was used or has expired.
import type { Command } from 'commander';
import { contextOf } from '../context.js';
import { clientFor, withConnection } from '../flags.js';
import { clock } from '../format.js';

export function register(program: Command): void {
  withConnection(program.command('dashboard'))
    .description('print a fresh login link for the web dashboard (single use, valid 10 minutes)')
    .action(async (_raw: unknown, cmd: Command) => {
      const ctx = contextOf(cmd);
      const client = clientFor(cmd);
      const link = await client.request<{ path: string; expiresAt: string }>('POST', '/dashboard/login-link');
      ctx.stdout.write(`${client.url}${link.path}\n`);
      ctx.stderr.write(`fastgpu: this link logs one browser in once, until ${clock(link.expiresAt)} (local time); run \`fastgpu dashboard\` again for another\n`);
    });
}
