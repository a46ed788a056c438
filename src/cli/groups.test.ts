// `fastgpu X` loads only the command groups that add X (COMMAND_GROUPS): each group's list must
// be exactly what it registers, or X would be an unknown command when it is run.
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { buildProgram, COMMAND_GROUPS } from './main.js';
import { processContext } from './context.js';

const names = (p: Command): string[] => p.commands.map((c) => c.name()).sort();

describe('COMMAND_GROUPS', () => {
  it('lists, for every group, exactly the top-level commands it registers', async () => {
    for (const g of COMMAND_GROUPS) {
      const program = new Command('fastgpu').enablePositionalOptions(); // as buildProgram's
      (await g.load()).register(program);
      expect(names(program), `a group listed for ${g.commands.join(', ')}`).toEqual([...g.commands].sort());
    }
  });

  it('builds only what the command line needs, and everything for help or an unknown command', async () => {
    const all = [...new Set(COMMAND_GROUPS.flatMap((g) => g.commands))].sort();
    expect(names(await buildProgram(processContext()))).toEqual(all);
    expect(names(await buildProgram(processContext(), ['--help']))).toEqual(all);
    expect(names(await buildProgram(processContext(), ['pss']))).toEqual(all);
    expect(names(await buildProgram(processContext(), ['ps', '--all']))).toEqual(['cancel', 'events', 'get', 'logs', 'ps', 'wait']);
    // Both admin groups (tenants and tokens; prices and promotions) under the one `admin`.
    const admin = (await buildProgram(processContext(), ['admin', 'price', 'ls'])).commands.find((c) => c.name() === 'admin')!;
    expect(names(admin)).toEqual(['billing', 'join-token', 'migrate', 'node', 'price', 'promo', 'tenant', 'token']);
  });
});
