// A JSON parser that also records where each value sits in the text, keyed
// by JSON pointer (RFC 6901). The server names a bad field by pointer
// ("/arith/forward/mac/acc"); this is what lets the submit page put the
// message at that field's line in the editor, and report syntax errors with
// line and column before anything is sent.

export class JsonSyntaxError extends Error {
  constructor(message, offset, text) {
    const { line, col } = lineCol(text, offset);
    super(`line ${line}, column ${col}: ${message}`);
    this.offset = offset;
    this.line = line;
    this.col = col;
  }
}

/** 1-based line and column of a character offset. */
export function lineCol(text, offset) {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) if (text[i] === '\n') { line++; last = i; }
  return { line, col: offset - last };
}

const escapeSeg = (s) => s.replace(/~/g, '~0').replace(/\//g, '~1');

/**
 * parse(text) -> {value, spans}; spans: Map pointer -> {start, end, keyStart}
 * (offsets of the value, and of its key when it is an object member).
 * Throws JsonSyntaxError. Duplicate keys are errors, as on the server.
 */
export function parse(text) {
  let i = 0;
  const spans = new Map();
  const fail = (msg, at = i) => { throw new JsonSyntaxError(msg, at, text); };
  const ws = () => { while (i < text.length && ' \t\n\r'.includes(text[i])) i++; };

  function value(ptr, keyStart) {
    ws();
    const start = i;
    const c = text[i];
    let v;
    if (c === '{') v = object(ptr);
    else if (c === '[') v = array(ptr);
    else if (c === '"') v = string();
    else if (c === '-' || (c >= '0' && c <= '9')) v = number();
    else if (text.startsWith('true', i)) { i += 4; v = true; }
    else if (text.startsWith('false', i)) { i += 5; v = false; }
    else if (text.startsWith('null', i)) { i += 4; v = null; }
    else fail(i >= text.length ? 'unexpected end of text' : `unexpected '${c}'`);
    spans.set(ptr, { start, end: i, keyStart: keyStart ?? start });
    return v;
  }

  function object(ptr) {
    const o = {};
    i++;
    ws();
    if (text[i] === '}') { i++; return o; }
    for (;;) {
      ws();
      const keyStart = i;
      if (text[i] !== '"') fail("string or '}' expected");
      const k = string();
      if (Object.prototype.hasOwnProperty.call(o, k)) fail(`duplicate key '${k}'`, keyStart);
      ws();
      if (text[i] !== ':') fail("':' expected");
      i++;
      o[k] = value(`${ptr}/${escapeSeg(k)}`, keyStart);
      ws();
      if (text[i] === ',') { i++; continue; }
      if (text[i] === '}') { i++; return o; }
      fail("',' or '}' expected");
    }
  }

  function array(ptr) {
    const a = [];
    i++;
    ws();
    if (text[i] === ']') { i++; return a; }
    for (;;) {
      a.push(value(`${ptr}/${a.length}`));
      ws();
      if (text[i] === ',') { i++; continue; }
      if (text[i] === ']') { i++; return a; }
      fail("',' or ']' expected");
    }
  }

  function string() {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text[i] === '\\') i++;
      else if (text[i] < ' ') fail('control character in string');
      i++;
    }
    if (i >= text.length) fail('unterminated string', start);
    i++;
    try { return JSON.parse(text.slice(start, i)); } catch { return fail('bad escape in string', start); }
  }

  function number() {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) fail('bad number');
    i += m[0].length;
    return Number(m[0]);
  }

  const v = value('');
  ws();
  if (i < text.length) fail('unexpected text after the document');
  return { value: v, spans };
}

/**
 * The span of the deepest existing ancestor of `pointer`: an error about a
 * missing key ("/train/epochs" when train has no epochs) lands on the
 * object that should hold it.
 */
export function spanOf(spans, pointer) {
  let p = pointer || '';
  for (;;) {
    if (spans.has(p)) return spans.get(p);
    if (!p) return null;
    p = p.slice(0, p.lastIndexOf('/'));
  }
}
