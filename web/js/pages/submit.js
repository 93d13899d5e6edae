// Submit: an experiment or a sweep as JSON, started from a preset or from
// an existing run, checked while typing (syntax, format strings) with each
// problem shown at its field, then posted. A refusal from the server is
// shown the same way, at the field its JSON pointer names.

import { api, ApiError } from '../api.js';
import { h, fill, debounce } from '../dom.js';
import { jsonEditor } from '../editor.js';
import { lineCol, spanOf } from '../jsonpos.js';
import { check, sweepSize } from '../validate.js';
import { PRESETS } from '../presets.js';

export async function render(root, params, ctx) {
  let problems = [];
  let spans = new Map();
  let kind = null;
  let generation = 0;

  const editor = jsonEditor({ onInput: () => { status.textContent = 'checking…'; revalidate(); } });
  const status = h('span', { class: 'muted status' });
  const errorList = h('ul', { class: 'field-errors' });
  const submitBtn = h('button', { type: 'submit', class: 'primary' }, 'Submit');
  const note = h('p', { class: 'muted preset-note' });

  function load(doc, text) {
    editor.value = JSON.stringify(doc, null, 2);
    note.textContent = text || '';
    validate();
  }

  const presetSelect = h('select', {
    name: 'preset',
    onchange: (e) => {
      const p = PRESETS.find((x) => x.id === e.target.value);
      if (p) load(p.doc, p.note);
    },
  }, h('option', { value: '' }, 'Presets…'), PRESETS.map((p) => h('option', { value: p.id }, p.label)));

  /** Shows problems at their fields: a mark in the text and a line in the list. */
  function show(list) {
    problems = list;
    const text = editor.value;
    const marks = [];
    fill(errorList, list.map((p) => {
      const span = p.offset !== undefined ? { start: p.offset, end: p.offset + 1 } : spanOf(spans, p.pointer);
      if (span) marks.push({ start: span.keyStart ?? span.start, end: span.end });
      const where = span ? `line ${lineCol(text, span.keyStart ?? span.start).line}` : '';
      return h('li', {
        class: 'field-error', dataset: { pointer: p.pointer }, role: 'alert',
        onclick: () => span && editor.select(span.start, span.end),
      }, h('code', {}, p.pointer || '(document)'), where ? h('span', { class: 'muted' }, ` ${where}`) : null, ': ', p.message);
    }));
    editor.paint(marks);
    submitBtn.disabled = list.length > 0;
  }

  async function validate() {
    const gen = ++generation;
    try {
      const r = await check(editor.value);
      if (gen !== generation || !ctx.alive) return;
      spans = r.spans;
      kind = r.kind;
      show(r.problems);
      const n = sweepSize(r.doc);
      status.textContent = r.problems.length
        ? `${r.problems.length} problem${r.problems.length > 1 ? 's' : ''}`
        : kind === 'sweep' ? `sweep: ${n === null ? 'some' : n} run${n === 1 ? '' : 's'} → POST /api/v1/sweeps`
          : 'experiment: 1 run → POST /api/v1/experiments';
    } catch (e) {
      if (gen === generation) ctx.error(e);
    }
  }
  const revalidate = debounce(validate, 250);

  async function submit(e) {
    e.preventDefault();
    await validate();
    if (!ctx.alive || problems.length) return;
    submitBtn.disabled = true;
    status.textContent = 'submitting…';
    try {
      const path = kind === 'sweep' ? '/sweeps' : '/experiments';
      const res = await api(path, { method: 'POST', body: editor.value });
      if (!ctx.alive) return; // the user went elsewhere meanwhile: leave them there
      location.hash = res.sweep ? `#/sweeps/${res.sweep.id}` : `#/runs/${res.run.id}`;
    } catch (err) {
      if (err instanceof ApiError && err.status === 400) {
        show([{ pointer: err.field || '', message: `${err.message} (refused by the server: ${err.code})` }]);
        status.textContent = 'refused by the server';
      } else {
        ctx.error(err);
        status.textContent = '';
      }
      submitBtn.disabled = false;
    }
  }

  fill(root,
    h('div', { class: 'page-head' }, h('h1', {}, 'Submit'), h('span', { class: 'spacer' }), presetSelect),
    note,
    h('form', { class: 'submit-form', onsubmit: submit },
      editor.el,
      errorList,
      h('div', { class: 'toolbar' }, submitBtn, status)),
    h('p', { class: 'muted small' },
      'An object with "base" is a sweep (schema/sweep.schema.json); anything else is one experiment (schema/experiment.schema.json). ',
      'Format strings are checked by the server\'s parser as you type.'));

  const from = Number(ctx.query.get('run'));
  if (from > 0) {
    const { run } = await api(`/runs/${from}`);
    if (!ctx.alive) return;
    load({ ...run.spec, name: `${run.spec.name} (copy)` }, `Copied from run ${from}; every default is written out.`);
  } else {
    const p = PRESETS.find((x) => x.id === ctx.query.get('preset')) || PRESETS[0];
    presetSelect.value = p.id;
    load(p.doc, p.note);
  }
}
