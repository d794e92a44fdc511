// Splits a multi-statement COM_QUERY at its top-level semicolons (outside strings, quoted identifiers and
// comments), so each part can be classified. Only used for statements the lexer flagged MULTI_STATEMENT.

export interface Range {
  start: number;
  end: number;
}

export function splitStatements(sql: Buffer, start: number, end: number, noBackslashEscapes: boolean, ansiQuotes = false): Range[] {
  const parts: Range[] = [];
  let from = start;
  let i = start;
  while (i < end) {
    const c = sql[i]!;
    if (c === 0x27 /* ' */ || c === 0x22 /* " */ || c === 0x60 /* ` */) {
      i++;
      while (i < end) {
        const d = sql[i]!;
        // Backslash escapes only in strings ('…', and "…" unless ANSI_QUOTES makes it an identifier).
        if (d === 0x5c /* \ */ && c !== 0x60 && !(c === 0x22 && ansiQuotes) && !noBackslashEscapes) {
          i += 2;
          continue;
        }
        if (d === c) {
          if (sql[i + 1] === c && i + 1 < end) {
            i += 2; // doubled quote
            continue;
          }
          break;
        }
        i++;
      }
      i++;
      continue;
    }
    if (c === 0x2f /* / */ && sql[i + 1] === 0x2a /* * */ && !(sql[i + 2] === 0x21 /* ! */ || (sql[i + 2] === 0x4d /* M */ && sql[i + 3] === 0x21))) {
      const close = sql.indexOf('*/', i + 2);
      i = close < 0 || close >= end ? end : close + 2;
      continue;
    }
    if ((c === 0x2d && sql[i + 1] === 0x2d && (i + 2 >= end || sql[i + 2]! <= 0x20)) || c === 0x23 /* # */) {
      const nl = sql.indexOf(0x0a, i);
      i = nl < 0 || nl >= end ? end : nl + 1;
      continue;
    }
    if (c === 0x3b /* ; */) {
      parts.push({ start: from, end: i });
      from = i + 1;
    }
    i++;
  }
  if (from < end) parts.push({ start: from, end });
  // Drop empty parts (trailing ';', whitespace only).
  return parts.filter((p) => {
    for (let k = p.start; k < p.end; k++) if (sql[k]! > 0x20) return true;
    return false;
  });
}
