import { describe, expect, it } from 'vitest';
import { checkManifest, checkRelativePath, parseDatasetRef, quotaError } from './dataset.js';

const h = 'a'.repeat(64);

describe('dataset references, manifests and quotas', () => {
  it('parses NAME and NAME@VERSION, naming what is wrong', () => {
    expect(parseDatasetRef('imgs')).toEqual({ name: 'imgs' });
    expect(parseDatasetRef('im-gs.v2_x@12')).toEqual({ name: 'im-gs.v2_x', version: 12 });
    expect(() => parseDatasetRef('imgs@0')).toThrow(/version "0" is not a version number/);
    expect(() => parseDatasetRef('imgs@')).toThrow(/version "" is not a version number/);
    expect(() => parseDatasetRef('Imgs')).toThrow(/"Imgs" is not a dataset name/);
    expect(() => parseDatasetRef('-x')).toThrow(/not a dataset name/);
  });

  it('accepts safe relative paths only', () => {
    expect(checkRelativePath('a/b.txt', 'p')).toBe('a/b.txt');
    for (const bad of ['/etc/passwd', 'a/../b', './a', 'a//b', 'a\\b', '']) expect(() => checkRelativePath(bad, 'p')).toThrow(/^p: /);
  });

  it('checks a manifest and totals it', () => {
    const ok = checkManifest({ files: [{ path: 'x', size: 3, chunks: [{ hash: h, size: 3 }] }, { path: 'y/z', size: 3, executable: true, chunks: [{ hash: h, size: 3 }] }] });
    expect(ok.bytes).toBe(6);
    expect([...ok.chunks]).toEqual([h]);
    expect(ok.manifest.files[0]!.executable).toBe(false);
    expect(() => checkManifest({ files: [{ path: 'x', size: 0, chunks: [] }, { path: 'x', size: 0, chunks: [] }] })).toThrow(/"x" appears twice/);
    expect(() => checkManifest({ files: [{ path: 'x', size: 1, chunks: [{ hash: h, size: 0 }] }] })).toThrow(/manifest.files.0.chunks.0.size/);
    expect(() => checkManifest({ files: [], extra: 1 })).toThrow(/manifest/);
  });

  it('says how far over the quota a push is', () => {
    expect(quotaError('t', 5, 5, 10)).toBeNull();
    expect(quotaError('t', 5, 5, null)).toBeNull();
    expect(quotaError('t', 5, 6, 10)?.message).toMatch(/^dataset quota of tenant t exceeded: 5 bytes stored \+ 6 new > limit 10 bytes/);
  });
});
