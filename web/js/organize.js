// Tags, the markdown note, the name and deletion of a run or a sweep: shown
// on its page and edited through PATCH /runs/{id} or /sweeps/{id} (DELETE to
// remove it) with the token the dashboard already sends. A tag links to the
// runs (or sweeps) list filtered on it through the server's filter grammar.
// The note is drawn from markdown into elements (never innerHTML), so a note
// cannot inject markup.

import { api, ApiError } from './api.js';
import { h, fill } from './dom.js';

// The server's rule (server/route_tags.c): 1..64 letters, digits or _.-:/@+=.
const TAG_RE = /^[A-Za-z0-9_.\-:/@+=]{1,64}$/;
export const TAGS_MAX = 32;

/**
 * parseTags('a, b  c,a') -> {tags: ['a', 'b', 'c'], bad: []}: commas or
 * blanks separate tags, duplicates are dropped, `bad` lists the words that
 * are not tags.
 */
export function parseTags(text) {
  const tags = [];
  const bad = [];
  for (const w of String(text || '').split(/[\s,]+/)) {
    if (!w) continue;
    if (!TAG_RE.test(w)) bad.push(w);
    else if (!tags.includes(w)) tags.push(w);
  }
  return { tags, bad };
}

/** The filter (docs/api.md, "Filters") that selects what carries `tag`. */
export function tagFilter(tag) {
  return `tag = "${tag}"`;
}

/** The list page of `kind` ('runs' or 'sweeps') filtered on `tag`. */
export function tagHref(kind, tag) {
  return `#/${kind}?filter=${encodeURIComponent(tagFilter(tag))}`;
}

// ---- markdown ----------------------------------------------------------------

// Inline markdown: `code`, **strong**, *em* or _em_, [text](http(s)://...).
const INLINE = /(`[^`]+`)|(\*\*[^*]+\*\*)|(\*[^*\s][^*]*\*|_[^_\s][^_]*_)|(\[[^\]]+\]\((https?:\/\/[^)\s]+)\))/;

/** The nodes of one line of inline markdown. */
export function inline(text) {
  const out = [];
  let rest = text;
  for (let m = INLINE.exec(rest); m; m = INLINE.exec(rest)) {
    if (m.index) out.push(rest.slice(0, m.index));
    const t = m[0];
    if (m[1]) out.push(h('code', {}, t.slice(1, -1)));
    else if (m[2]) out.push(h('strong', {}, inline(t.slice(2, -2))));
    else if (m[3]) out.push(h('em', {}, inline(t.slice(1, -1))));
    else out.push(h('a', { href: m[5], target: '_blank', rel: 'noopener noreferrer' }, t.slice(1, t.indexOf(']'))));
    rest = rest.slice(m.index + t.length);
  }
  if (rest) out.push(rest);
  return out;
}

/**
 * Block markdown into elements: ATX headings, "-", "*" or "1." lists,
 * fenced code, paragraphs (a blank line ends one). Enough for lab notes.
 */
export function markdown(text) {
  const lines = String(text || '').replace(/\r\n?/g, '\n').split('\n');
  const out = [];
  let para = [];
  let list = null;
  const endPara = () => {
    if (para.length) out.push(h('p', {}, inline(para.join(' '))));
    para = [];
  };
  const endList = () => { list = null; };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    let m;
    if (/^```/.test(line)) {
      endPara(); endList();
      const code = [];
      while (++i < lines.length && !/^```/.test(lines[i])) code.push(lines[i]);
      out.push(h('pre', {}, h('code', {}, code.join('\n'))));
    } else if ((m = /^(#{1,6})\s+(.*)$/.exec(line))) {
      endPara(); endList();
      // Headings inside a card start at h4: the page has h1..h3.
      out.push(h(`h${Math.min(6, 3 + m[1].length)}`, {}, inline(m[2])));
    } else if ((m = /^\s*([-*]|\d+\.)\s+(.*)$/.exec(line))) {
      endPara();
      const tag = /\d/.test(m[1]) ? 'ol' : 'ul';
      if (!list || list.tagName.toLowerCase() !== tag) { list = h(tag); out.push(list); }
      list.append(h('li', {}, inline(m[2])));
    } else if (!line.trim()) {
      endPara(); endList();
    } else {
      endList();
      para.push(line.trim());
    }
  }
  endPara();
  return out;
}

// ---- the card -------------------------------------------------------------------

function why(e) {
  if (e instanceof ApiError && e.status === 403) return `This token may not change anything (${e.message}); the Token button sets an admin token.`;
  if (e instanceof ApiError) return `${e.code || 'error'}${e.field ? ' at ' + e.field : ''}: ${e.message}`;
  return e.message || String(e);
}

/**
 * organizer({kind: 'runs'|'sweeps', id, obj, onSaved(obj), onDeleted()})
 * -> {el, update(obj)}. `obj` is the RUN or SWEEP of docs/api.md; update()
 * redraws what is shown but leaves an open editor alone.
 */
export function organizer({ kind, id, obj, onSaved = () => {}, onDeleted = () => {} }) {
  const noun = kind === 'runs' ? 'run' : 'sweep';
  let cur = obj;
  let editing = false;
  const el = h('section', { class: 'card organize', dataset: { kind: noun } });
  const msg = h('p', { class: 'error organize-error', role: 'alert', hidden: true });

  function say(text) {
    msg.hidden = !text;
    msg.textContent = text || '';
  }

  function view() {
    const tags = cur.tags || [];
    fill(el,
      h('div', { class: 'page-head' }, h('h3', {}, 'Tags and note'), h('span', { class: 'spacer' }),
        h('button', { type: 'button', class: 'ghost edit', onclick: edit }, 'Edit'),
        h('button', { type: 'button', class: 'ghost danger delete', onclick: remove }, `Delete ${noun}`)),
      h('div', { class: 'tags' }, tags.length
        ? tags.map((t) => h('a', { class: 'chip tag', href: tagHref(kind, t), title: `every ${noun} tagged ${t}`, dataset: { tag: t } }, t))
        : h('span', { class: 'muted' }, 'no tags')),
      cur.note
        ? h('div', { class: 'note' }, markdown(cur.note))
        : h('p', { class: 'muted note-empty' }, 'No note.'),
      cur.submitted_by ? h('p', { class: 'muted small submitted-by' }, `submitted by ${cur.submitted_by}`) : null,
      msg);
  }

  function edit() {
    editing = true;
    say('');
    const name = h('input', { type: 'text', name: 'name', value: cur.name, size: 60, maxlength: 256 });
    const tags = h('input', { type: 'text', name: 'tags', value: (cur.tags || []).join(', '), size: 60, placeholder: 'tags, separated by commas or blanks' });
    const note = h('textarea', { name: 'note', rows: 8, cols: 80, placeholder: 'a markdown note' });
    note.value = cur.note || '';
    const form = h('form', {
      class: 'organize-form',
      onsubmit: async (e) => {
        e.preventDefault();
        const t = parseTags(tags.value);
        if (t.bad.length) return say(`not a tag: ${t.bad.join(', ')} (1..64 letters, digits or _.-:/@+=)`);
        if (t.tags.length > TAGS_MAX) return say(`at most ${TAGS_MAX} tags`);
        if (!name.value.trim()) return say('the name cannot be empty');
        const body = {};
        if (name.value.trim() !== cur.name) body.name = name.value.trim();
        if (note.value !== (cur.note || '')) body.note = note.value;
        if (t.tags.join('\n') !== (cur.tags || []).join('\n')) body.tags = t.tags;
        if (!Object.keys(body).length) { editing = false; drawn = shown(cur); return view(); }
        save.disabled = true;
        try {
          const res = await api(`/${kind}/${id}`, { method: 'PATCH', body });
          cur = res[noun];
          editing = false;
          drawn = shown(cur);
          view();
          onSaved(cur);
        } catch (err) {
          save.disabled = false;
          say(why(err));
        }
      },
    });
    const save = h('button', { type: 'submit', class: 'save' }, 'Save');
    fill(form,
      h('label', {}, 'name ', name),
      h('label', {}, 'tags ', tags),
      h('label', {}, 'note (markdown) ', note),
      h('div', { class: 'toolbar' }, save,
        h('button', { type: 'button', class: 'ghost cancel', onclick: () => { editing = false; drawn = shown(cur); view(); } }, 'Cancel')),
      msg);
    fill(el, h('h3', {}, `Edit this ${noun}`), form);
    tags.focus();
  }

  async function remove() {
    const what = kind === 'runs'
      ? `Delete run ${id} with its metrics, events and checkpoint?`
      : `Delete sweep ${id} with all its runs, their metrics, events and checkpoints?`;
    if (!confirm(what)) return;
    try {
      await api(`/${kind}/${id}`, { method: 'DELETE' });
      onDeleted();
    } catch (err) {
      say(why(err));
    }
  }

  // What the card shows; a page redraws often (every metrics event) and the
  // card is rebuilt only when this changes.
  const shown = (o) => JSON.stringify([o.tags, o.note, o.submitted_by]);
  let drawn = shown(cur);
  view();
  return {
    el,
    update(o) {
      cur = o;
      if (editing || shown(o) === drawn) return;
      drawn = shown(o);
      view();
    },
  };
}
