// Limits on nesting and aliases for JSON and YAML text, checked before the text reaches a parser.
// The YAML parser recurses per level: 10 KB of `[` exhausted V8 (a fatal RegExp out-of-memory,
// not an exception) and took the whole server down. So the text is measured first with
// non-recursive scanners (JSON by hand; YAML with the yaml library's own Lexer, a flat state
// machine), and a parsed value is measured again iteratively (aliases can deepen it).

import { Lexer } from 'yaml';

/** Deepest nesting of lists/maps accepted in any request body or spec file. */
export const MAX_NESTING = 64;
/** Most YAML aliases (`*name`) in one text; `toJS` gets the same as its maxAliasCount. */
export const MAX_YAML_ALIASES = 100;

/** Why `text` (JSON) is refused, or null. Exact: strings are skipped, escapes honoured. */
export function jsonNestingError(text: string, max = MAX_NESTING): string | null {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 0x5c) i++; // backslash: skip the escaped character
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) inString = true;
    else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return `nested deeper than ${max} levels`;
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) depth--;
  }
  return null;
}

// The Lexer marks plain and block scalar contents with this token before the content itself.
const SCALAR = '\x1f';

/**
 * Why `text` (YAML, one or more documents) is refused, or null. Counts flow nesting exactly
 * (quoted and plain scalars come as their own tokens) and over-estimates block nesting: every
 * deeper indentation and every `-`, `?`, `:` indicator on a line counts one level.
 */
export function yamlNestingError(text: string, max = MAX_NESTING, maxAliases = MAX_YAML_ALIASES): string | null {
  let flow = 0;
  let aliases = 0;
  const indents: number[] = [];
  let lineStart = true;
  let indicators = 0;
  let skipNext = false;
  for (const tok of new Lexer().lex(text)) {
    if (skipNext) {
      // Scalar content (plain or block): never structure, whatever characters it holds.
      skipNext = false;
      lineStart = false;
      continue;
    }
    if (tok === SCALAR) {
      skipNext = true;
      continue;
    }
    if (tok === '\n' || tok === '\r\n' || tok === '') {
      lineStart = true;
      indicators = 0;
      continue;
    }
    if (lineStart && flow === 0) {
      lineStart = false;
      const indent = tok[0] === ' ' || tok[0] === '\t' ? tok.length : 0;
      while (indents.length > 0 && indents[indents.length - 1]! > indent) indents.pop();
      if (indents.length === 0 || indents[indents.length - 1]! < indent) indents.push(indent);
      if (indent > 0) continue;
    }
    lineStart = false;
    switch (tok) {
      case '[':
      case '{':
        flow++;
        break;
      case ']':
      case '}':
        if (flow > 0) flow--;
        break;
      case '-':
      case '?':
      case ':':
        if (flow === 0) indicators++;
        break;
      default:
        if (tok[0] === '*' && ++aliases > maxAliases) return `has more than ${maxAliases} aliases`;
    }
    if (flow + indents.length + indicators > max) return `nested deeper than ${max} levels`;
  }
  return null;
}

/** Whether a parsed value nests deeper than `max` (iterative; shared references are walked once per path). */
export function valueNestingError(value: unknown, max = MAX_NESTING): string | null {
  const stack: [unknown, number][] = [[value, 0]];
  let visits = 0;
  while (stack.length > 0) {
    const [v, d] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (d >= max) return `nested deeper than ${max} levels`;
    // Aliases can make a small text a huge graph; the alias limit bounds it, this bounds the walk.
    if (++visits > 1_000_000) return 'is too large once its aliases are expanded';
    for (const x of Object.values(v)) if (typeof x === 'object' && x !== null) stack.push([x, d + 1]);
  }
  return null;
}
