// Loading and validating the Sluice configuration.
//
//   parseConfig(input, source)  validates an already-parsed value (pure: no filesystem, no environment).
//   loadConfigFile(path)        reads YAML, substitutes ${VAR} / ${VAR:-default}, validates, checks that TLS
//                               files exist (relative paths are resolved against the config file's directory).
//
// Every problem found is reported at once, one per line: `<source>: <dotted.key[0].path>: <problem>`.
// Error messages never echo configured values of string type (they may be passwords).
import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, Scalar, visit, type Document } from 'yaml';
import { z } from 'zod';
import { configSchema, schemaKeysAt, type SluiceConfig } from './schema.js';

export interface ConfigIssue {
  /** Dotted key path, e.g. `listeners[0].port`; '' when the problem is not about one key (YAML syntax, file). */
  key: string;
  message: string;
  /** 1-based line in the YAML file, when known. */
  line?: number;
}

export class ConfigError extends Error {
  readonly code = 'SLUICE_CONFIG_INVALID' as const;
  readonly issues: ConfigIssue[];
  readonly source: string;

  constructor(issues: ConfigIssue[], source = 'config') {
    super(formatIssues(issues, source));
    this.name = 'ConfigError';
    this.issues = issues;
    this.source = source;
  }
}

function formatIssues(issues: ConfigIssue[], source: string): string {
  return issues
    .map((i) => {
      const where = i.line !== undefined && i.key !== '' ? ` (line ${i.line})` : '';
      return i.key === '' ? `${source}: ${i.message}` : `${source}: ${i.key}: ${i.message}${where}`;
    })
    .join('\n');
}

/** `['listeners', 0, 'port']` → `listeners[0].port`. */
export function formatKeyPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else out += out === '' ? String(seg) : `.${String(seg)}`;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// Validation

/** Validates a parsed config value and applies defaults. Throws ConfigError listing every problem. */
export function parseConfig(input: unknown, source = 'config'): SluiceConfig {
  const result = validate(input);
  if (!result.ok) throw new ConfigError(result.issues.map((i) => ({ key: formatKeyPath(i.path), message: i.message })), source);
  return result.config;
}

interface PathIssue {
  path: PropertyKey[];
  message: string;
}

function validate(input: unknown): { ok: true; config: SluiceConfig } | { ok: false; issues: PathIssue[] } {
  if (input === null || input === undefined) {
    return {
      ok: false,
      issues: [{ path: [], message: 'the configuration is empty (it needs at least `listeners`, `backends` and `monitor`)' }],
    };
  }
  const result = configSchema.safeParse(input, { error: errorMessage });
  if (result.success) return { ok: true, config: result.data };
  const issues: PathIssue[] = [];
  for (const issue of result.error.issues) {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    if (issue.code === 'unrecognized_keys') {
      const known = schemaKeysAt(path);
      for (const key of issue.keys) {
        const hint = suggest(key, known);
        issues.push({ path: [...path, key], message: `unknown key${hint ? ` (did you mean \`${hint}\`?)` : ''}` });
      }
    } else if (path.length === 0 && issue.code === 'invalid_type') {
      issues.push({ path, message: `the configuration must be a mapping of keys, got ${describe(input)}` });
    } else {
      issues.push({ path, message: issue.message });
    }
  }
  return { ok: false, issues };
}

const EXPECTED: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'an integer',
  boolean: 'true or false',
  array: 'a list',
  object: 'a mapping',
  null: 'null',
};

/** Describes a value without echoing strings (they may be secrets). */
function describe(v: unknown): string {
  if (v === null) return 'an empty value (null)';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'a non-finite number';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'string') return 'a string';
  if (typeof v === 'object') return 'a mapping';
  return typeof v;
}

const errorMessage: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type': {
      if (iss.input === undefined) return 'is required';
      if (iss.expected === 'int' && typeof iss.input === 'number') return 'must be an integer';
      const want = EXPECTED[iss.expected] ?? iss.expected;
      if (iss.expected === 'string' && (typeof iss.input === 'number' || typeof iss.input === 'boolean')) {
        // Do not echo the value: it may be a numeric password.
        return `expected a string, got a ${typeof iss.input} (quote the value in YAML)`;
      }
      if ((iss.expected === 'number' || iss.expected === 'int') && typeof iss.input === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(iss.input)) {
        return `expected ${want}, got a string (remove the quotes)`;
      }
      return `expected ${want}, got ${describe(iss.input)}`;
    }
    case 'too_small':
      if (iss.origin === 'number' || iss.origin === 'int') {
        return iss.inclusive ? `must be >= ${String(iss.minimum)}` : `must be > ${String(iss.minimum)}`;
      }
      if (iss.origin === 'array') return `needs at least ${String(iss.minimum)} entr${iss.minimum === 1 ? 'y' : 'ies'}`;
      return undefined;
    case 'too_big':
      if (iss.origin === 'number' || iss.origin === 'int') {
        return iss.inclusive ? `must be <= ${String(iss.maximum)}` : `must be < ${String(iss.maximum)}`;
      }
      return undefined;
    case 'invalid_value': {
      const got = typeof iss.input === 'string' ? `"${iss.input}"` : describe(iss.input);
      return `must be one of: ${iss.values.map(String).join(', ')} (got ${got})`;
    }
    default:
      return undefined;
  }
};

function suggest(key: string, known: string[]): string | undefined {
  let best: string | undefined;
  let bestDist = Infinity;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k);
    if (d < bestDist) {
      bestDist = d;
      best = k;
    }
  }
  if (best === undefined) return undefined;
  const sameModuloSeparators = key.replace(/[-_]/g, '').toLowerCase() === best.replace(/_/g, '');
  return sameModuloSeparators || bestDist <= Math.max(1, Math.floor(best.length / 3)) ? best : undefined;
}

/** Optimal string alignment distance (Levenshtein + adjacent transpositions). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}

// ---------------------------------------------------------------------------------------------------------
// YAML file loading

/**
 * Reads, substitutes environment variables in, and validates a YAML config file.
 * Throws ConfigError (with line numbers where known) when anything is wrong.
 */
export function loadConfigFile(path: string, env: NodeJS.ProcessEnv = process.env): SluiceConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
    throw new ConfigError([{ key: '', message: `cannot read config file ${resolve(path)}: ${why}` }], path);
  }

  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      [...doc.errors].sort((a, b) => a.pos[0] - b.pos[0]).map((e) => {
        const pos = lineCounter.linePos(e.pos[0]);
        const msg = (e.message.split('\n')[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, '');
        return { key: '', line: pos.line, message: `line ${pos.line}, column ${pos.col}: YAML syntax error: ${msg}` };
      }),
      path,
    );
  }

  const lineOf = (p: ReadonlyArray<PropertyKey>): number | undefined => yamlLineOf(doc, lineCounter, p);
  const envIssues = substituteEnv(doc, env).map((i) => ({ key: formatKeyPath(i.path), message: i.message, line: lineOf(i.path) }));
  if (envIssues.length > 0) throw new ConfigError(envIssues, path);

  let input: unknown;
  try {
    input = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError([{ key: '', message: `cannot interpret YAML: ${(err as Error).message}` }], path);
  }

  const result = validate(input);
  if (!result.ok) {
    throw new ConfigError(
      result.issues.map((i) => ({ key: formatKeyPath(i.path), message: i.message, line: lineOf(i.path) })),
      path,
    );
  }

  const config = result.config;
  const fileIssues = checkFiles(config, dirname(resolve(path))).map((i) => ({
    key: formatKeyPath(i.path),
    message: i.message,
    line: lineOf(i.path),
  }));
  if (fileIssues.length > 0) throw new ConfigError(fileIssues, path);
  return config;
}

/** Resolves TLS file paths against `baseDir` (in place) and checks that they are readable files. */
function checkFiles(config: SluiceConfig, baseDir: string): PathIssue[] {
  const issues: PathIssue[] = [];
  const check = (path: PropertyKey[], file: string): string => {
    const abs = isAbsolute(file) ? file : resolve(baseDir, file);
    try {
      if (!statSync(abs).isFile()) {
        issues.push({ path, message: `${abs} is not a regular file` });
        return abs;
      }
      accessSync(abs, fsConstants.R_OK);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      issues.push({ path, message: code === 'ENOENT' ? `file not found: ${abs}` : `cannot read ${abs}: ${code ?? (err as Error).message}` });
    }
    return abs;
  };
  if (config.tls) {
    config.tls.cert = check(['tls', 'cert'], config.tls.cert);
    config.tls.key = check(['tls', 'key'], config.tls.key);
    if (config.tls.ca !== null) config.tls.ca = check(['tls', 'ca'], config.tls.ca);
  }
  if (config.backend_tls.ca !== null) config.backend_tls.ca = check(['backend_tls', 'ca'], config.backend_tls.ca);
  return issues;
}

/** Line (1-based) of the deepest node along `path` that exists in the document. */
function yamlLineOf(doc: Document, lc: LineCounter, path: ReadonlyArray<PropertyKey>): number | undefined {
  let node: unknown = doc.contents;
  let line: number | undefined;
  const lineAt = (n: unknown): number | undefined => {
    const range = (n as { range?: [number, number, number] } | null)?.range;
    return range ? lc.linePos(range[0]).line : undefined;
  };
  line = lineAt(node);
  for (const seg of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) break;
      line = lineAt(pair.key) ?? line;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
      node = node.items[seg];
      if (node === undefined) break;
      line = lineAt(node) ?? line;
    } else {
      break;
    }
  }
  return line;
}

const ENV_REF = /\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/**
 * Replaces `${VAR}` and `${VAR:-default}` in string values (not keys); `$$` is a literal `$`.
 * An unquoted value that is exactly one reference takes the YAML type of its substitution
 * (`port: ${PORT}` becomes a number), a quoted one stays a string.
 */
function substituteEnv(doc: Document, env: NodeJS.ProcessEnv): PathIssue[] {
  const issues: PathIssue[] = [];
  visit(doc, {
    Scalar(key, node, ancestors) {
      if (key === 'key' || typeof node.value !== 'string' || !node.value.includes('$')) return;
      const original = node.value;
      let missing: string | undefined;
      const replaced = original.replace(ENV_REF, (m, name: string | undefined, fallback: string | undefined) => {
        if (m === '$$') return '$';
        const v = env[name!];
        if (v !== undefined && (v !== '' || fallback === undefined)) return v;
        if (fallback !== undefined) return fallback;
        missing ??= name;
        return '';
      });
      if (missing !== undefined) {
        issues.push({ path: yamlPath(ancestors, node), message: `environment variable ${missing} is not set` });
        return;
      }
      if (replaced === original) return;
      let value: unknown = replaced;
      const single = /^\$\{[^}]*\}$/.test(original);
      if (single && node.type === Scalar.PLAIN) {
        const typed = parseDocument(replaced).toJS() as unknown;
        if (typeof typed === 'number' || typeof typed === 'boolean') value = typed;
      }
      node.value = value;
    },
  });
  return issues;
}

function yamlPath(ancestors: ReadonlyArray<unknown>, node: unknown): PropertyKey[] {
  const path: PropertyKey[] = [];
  for (let i = 0; i < ancestors.length; i++) {
    const a = ancestors[i];
    const child = i + 1 < ancestors.length ? ancestors[i + 1] : node;
    if (isPair(a) && isScalar(a.key)) path.push(String(a.key.value));
    else if (isSeq(a)) path.push(a.items.indexOf(child as never));
  }
  return path;
}
