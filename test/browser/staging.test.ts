// A task's Staging phase as the dashboard shows it (issue 16): the progress the server words in
// the reason message drives the task list's note and the task page's progress bar.
import { describe, expect, it } from 'vitest';
import { reasonWords, stagingProgress } from '../../web/src/format.js';
import { stagingMessage } from '../../src/server/datasets-inputs.js';

describe('staging progress on the dashboard', () => {
  it("reads the percentage from the server's own wording, and is null for any other phase", () => {
    const msg = stagingMessage({ doneBytes: 1.5 * 2 ** 30, totalBytes: 4 * 2 ** 30 });
    expect(stagingProgress({ state: 'SCHEDULED', reason: 'Staging', reasonMessage: msg })).toEqual({ percent: 37, text: msg });
    expect(stagingProgress({ state: 'SCHEDULED', reason: 'Staging', reasonMessage: stagingMessage(undefined) })).toEqual({ percent: null, text: 'staging inputs' });
    expect(stagingProgress({ state: 'SCHEDULED', reason: null, reasonMessage: null })).toBeNull();
    expect(stagingProgress({ state: 'RUNNING', reason: 'Staging', reasonMessage: msg })).toBeNull();
    expect(reasonWords('Staging')).toMatch(/staging its data inputs/);
  });
});
